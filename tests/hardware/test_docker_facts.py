"""Docker facts from the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paitui.services.hardware.host import HostEnv, query_docker

pytestmark = pytest.mark.docker


def test_docker_facts_from_the_real_engine(docker_client: Any, tmp_path: Path) -> None:
    info = docker_client.info()
    facts = query_docker(HostEnv(root=tmp_path), None)
    assert facts.reachable and facts.error is None
    assert facts.version == info["ServerVersion"]
    assert facts.api_version == docker_client.version()["ApiVersion"]
    assert facts.rootless == any("rootless" in s for s in info.get("SecurityOptions") or [])
    assert facts.nvidia_runtime == ("nvidia" in (info.get("Runtimes") or {}))
    assert facts.cdi_specs == ()  # nothing under the empty root's etc/cdi and var/run/cdi
    assert facts.host is not None and facts.host.startswith(("http+docker://", "unix://", "tcp://"))


def _engine_host(environ: dict[str, str]) -> str:
    from paitui.services.engine.client import Engine
    from paitui.settings import Settings

    return Engine(Settings(), env=environ).endpoint.host


def test_detection_and_the_engine_agree_on_a_docker_context(tmp_path: Path) -> None:
    from tests.engine.test_engine_units import _context

    config = tmp_path / "home" / ".docker"
    link = tmp_path / "via-context.sock"
    link.symlink_to("/var/run/docker.sock")
    _context(config, "box", f"unix://{link}")
    _context(config, "gone", f"unix://{tmp_path}/nothing-here.sock")
    (config / "config.json").write_text('{"currentContext": "box"}')
    home = {"HOME": str(tmp_path / "home")}
    # The current context reaches the real engine through its own socket path.
    facts = query_docker(HostEnv(root=tmp_path), None, environ=home)
    assert facts.reachable and facts.host == f"unix://{link}" == _engine_host(home)
    # DOCKER_CONTEXT names a context whose engine is gone: both say so, neither falls back to
    # the default socket (where an engine does answer).
    gone = {**home, "DOCKER_CONTEXT": "gone"}
    facts = query_docker(HostEnv(root=tmp_path), None, environ=gone)
    assert not facts.reachable and facts.error
    assert facts.host == f"unix://{tmp_path}/nothing-here.sock" == _engine_host(gone)


def test_detection_and_the_engine_agree_on_an_ssh_docker_host(tmp_path: Path) -> None:
    # Port 1 on loopback refuses at once: no engine, no password prompt, no wait.
    environ = {"HOME": str(tmp_path), "DOCKER_HOST": "ssh://nobody@127.0.0.1:1"}
    facts = query_docker(HostEnv(root=tmp_path), None, environ=environ)
    assert not facts.reachable and facts.error
    assert facts.host == "ssh://nobody@127.0.0.1:1" == _engine_host(environ)
    # Settings win over the environment, for both.
    facts = query_docker(HostEnv(root=tmp_path), "unix:///var/run/docker.sock", environ=environ)
    assert facts.reachable and facts.host == "unix:///var/run/docker.sock"
