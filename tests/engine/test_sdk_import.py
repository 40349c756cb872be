"""The docker SDK loads without paramiko until an ssh:// engine needs its SSH transport.

Each order runs in a fresh interpreter: this one has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
from paitui.services.engine.sdk import load_docker
seen = {}
for step in sys.argv[1:]:
    if step == "plain":
        load_docker()
    elif step == "ssh":
        load_docker(ssh=True)
    elif step == "paramiko":
        import paramiko  # paitui's own SSH sessions, after a plain load
    elif step == "client":
        import docker
        # Shelling out to ssh builds the adapter without connecting anywhere.
        c = docker.DockerClient(
            base_url="ssh://nobody@127.0.0.1:1", use_ssh_client=True, version="1.41"
        )
        seen["adapter"] = type(c.api._custom_adapter).__name__
    seen[step] = sorted(m for m in ("docker", "paramiko", "cryptography") if m in sys.modules)
print(json.dumps(seen))
"""


def _run(*steps: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *steps],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_plain_load_leaves_paramiko_out_and_importable() -> None:
    seen = _run("plain", "paramiko")
    assert seen["plain"] == ["docker"]
    assert seen["paramiko"] == ["cryptography", "docker", "paramiko"]


@pytest.mark.parametrize("steps", [("plain", "ssh", "client"), ("ssh", "client")])
def test_ssh_clients_work_after_either_order(steps: tuple[str, ...]) -> None:
    seen = _run(*steps)
    assert seen["ssh"] == ["cryptography", "docker", "paramiko"]
    assert seen["adapter"] == "SSHHTTPAdapter"


def test_without_the_transport_an_ssh_client_says_what_is_missing() -> None:
    """The failure the SSH step exists for: a plain load alone cannot make an ssh:// client."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, "plain", "client"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode != 0 and "Install paramiko" in out.stderr
