"""Fixtures for the hosts tests: a second dockerd (own socket and bridge) and a real sshd whose
``docker system dial-stdio`` reaches the shared engine, each a test can kill and bring back."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.second_dockerd import SecondDockerd
from tests.hosts.remote_box import RemoteBox, remote_box
from tests.hosts.sshd import SshBox

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def d2(registry: str) -> Iterator[SecondDockerd]:
    """A second dockerd of the test's own, removed at the end whatever happened."""
    if shutil.which("dockerd") is None or shutil.which("ip") is None:
        pytest.fail("dockerd and ip (iproute2) are needed: scripts/test-env.sh up")
    daemon = SecondDockerd()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.close()


@pytest.fixture
def sshbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SshBox]:
    """sshd on a loopback port; $HOME points paramiko at it (config, key, known_hosts)."""
    if shutil.which("sshd") is None and shutil.which("/usr/sbin/sshd") is None:
        pytest.fail("sshd is needed: scripts/test-env.sh up installs openssh-server")
    # PYTHONPATH: a session there can run this checkout's paitui (`paitui hw --json`).
    box = SshBox(session_env={"PYTHONPATH": str(REPO)})
    monkeypatch.setenv("HOME", str(box.home))
    try:
        yield box
    finally:
        box.close()


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteBox]:
    """A box that runs this checkout's paitui over a real sshd (``tests.hosts.remote_box``)."""
    if shutil.which("sshd") is None and shutil.which("/usr/sbin/sshd") is None:
        pytest.fail("sshd is needed: scripts/test-env.sh up installs openssh-server")
    with remote_box(tmp_path) as box:
        monkeypatch.setenv("HOME", str(box.box.home))
        yield box


@pytest.fixture
def app_tag() -> str:
    return f"h{uuid.uuid4().hex[:8]}"


def run_managed(client: Any, image: str, app_id: str, *, always: bool = False) -> Any:
    """A paitui-labelled busybox that sleeps (and comes back with its engine when ``always``)."""
    return client.containers.run(
        image,
        ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"],
        detach=True,
        name=f"paitest-{app_id}",
        labels={"paitui.managed": "true", "paitui.app": app_id, "paitest": "hosts"},
        restart_policy={"Name": "always"} if always else {"Name": "no"},
    )
