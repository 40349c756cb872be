"""A second, private dockerd on its own socket, bridge and data dirs, that a test can kill, start
again, or freeze (SIGSTOP) and thaw (test-infra-facts §4). Never ``--bridge=none``: it deletes
the main docker0."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def _used_subnets() -> set[int]:
    out = subprocess.run(
        ["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True
    ).stdout
    used = set()
    for word in out.split():
        if word.startswith("172.31."):
            used.add(int(word.split(".")[2]))
    return used


class SecondDockerd:
    """Start/kill/restart a dockerd that shares nothing with the main one but the registry."""

    def __init__(self) -> None:
        # Short paths: containerd's socket path must stay under the 108-byte unix limit.
        self.root = Path(tempfile.mkdtemp(prefix="pd2-", dir="/tmp"))
        self.socket = self.root / "d.sock"
        self.bridge = f"pt{uuid.uuid4().hex[:8]}br"
        free = sorted(set(range(100, 250)) - _used_subnets())
        self.subnet = random.choice(free)
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False
        self.log = self.root / "dockerd.log"
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"172.31.{self.subnet}.1/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the daemon and wait until it answers."""
        import docker

        args = [
            "dockerd",
            "--host",
            self.host,
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "dockerd.pid"),
            "--bridge",
            self.bridge,
            "--iptables=false",
            "--ip-masq=false",
            "--label",
            f"paitest.host={self.bridge}",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"second dockerd exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(Exception):
                client = docker.DockerClient(base_url=self.host, timeout=5)
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            if time.monotonic() > deadline:
                raise RuntimeError("second dockerd did not answer in time")
            time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP the daemon: the kernel still accepts connections, nothing ever answers."""
        assert self.proc is not None and self.proc.poll() is None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT a frozen daemon (harmless when it is not frozen)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the daemon the way an engine goes away (TERM) and wait until it is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.thaw()  # a stopped process cannot act on TERM
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def close(self) -> None:
        """Stop it and remove its bridge and files."""
        self.stop()
        with contextlib.suppress(Exception):
            _run("ip", "link", "del", self.bridge)
        shutil.rmtree(self.root, ignore_errors=True)
