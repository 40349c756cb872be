"""Running a command on another box over SSH, the way its engine connection goes: paramiko
(``$HOME/.ssh/config`` and ``known_hosts``, unknown host keys refused) or the ssh binary in batch
mode. ``ssh_run`` collects a bounded answer; ``ssh_stream`` hands over output lines as they come,
gives up when the box stays silent too long, and can be cancelled (the remote command goes with
the session: it runs on a pty, whose hang-up ends it).
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paitui.domain.fleet.hosts import HostSpec

#: Longest answer ``ssh_run`` reads (a hardware report or a store listing is far smaller).
MAX_ANSWER_BYTES = 8 << 20
#: Longest output line ``ssh_stream`` hands over; the rest of a longer line is dropped.
MAX_LINE_CHARS = 2000
#: Exit status of a shell that cannot find the command.
NOT_FOUND = 127


@dataclass(frozen=True)
class SshResult:
    """How a remote command ended."""

    code: int | None  # None: cut off (cancelled, silent too long, or the connection dropped)
    stderr: str = ""
    reason: str = ""  # why it was cut off


def remote_command(paitui: str, args: Sequence[str]) -> str:
    """The shell line that runs ``paitui ARGS`` there (the configured command, as given, then
    each argument quoted)."""
    return " ".join([paitui, *(shlex.quote(a) for a in args)])


def _paramiko_client(spec: HostSpec, timeout: float) -> Any:
    import paramiko

    host = spec.hostname or "localhost"
    params: dict[str, object] = {
        "hostname": host,
        "port": spec.ssh_port or 22,
        "username": spec.ssh_user,
        "timeout": timeout,
        "banner_timeout": timeout,
        "auth_timeout": timeout,
    }
    config_file = Path(os.path.expanduser("~/.ssh/config"))
    if config_file.is_file():
        conf = paramiko.SSHConfig.from_path(str(config_file)).lookup(host)
        params["hostname"] = conf.get("hostname", host)
        if spec.ssh_port is None and "port" in conf:
            params["port"] = int(conf["port"])
        if spec.ssh_user is None and "user" in conf:
            params["username"] = conf["user"]
        if "identityfile" in conf:
            params["key_filename"] = conf["identityfile"]
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(**params)
    except BaseException:
        client.close()
        raise
    return client


def _openssh_args(spec: HostSpec, timeout: float, *, tty: bool = False) -> list[str]:
    args = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, int(timeout))}"]
    if tty:
        args.append("-tt")
    if spec.ssh_port:
        args += ["-p", str(spec.ssh_port)]
    return [*args, spec.ssh_destination or "localhost"]


def ssh_run(spec: HostSpec, command: str, timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``command`` on the box (blocking): exit status, stdout (at most ``MAX_ANSWER_BYTES``
    and one more), the end of stderr."""
    if spec.ssh_client == "openssh":
        proc = subprocess.run(
            [*_openssh_args(spec, timeout), command],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return proc.returncode, proc.stdout[: MAX_ANSWER_BYTES + 1], proc.stderr[-4096:]
    client = _paramiko_client(spec, timeout)
    try:
        _stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
        out = stdout.read(MAX_ANSWER_BYTES + 1)
        err = stderr.read(4096)
        return stdout.channel.recv_exit_status(), out, err
    finally:
        client.close()


class _Lines:
    """Splits a byte stream into bounded text lines (``\\r`` counts as an end: progress)."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self.on_line = on_line
        self.buffer = b""
        self.tail: list[str] = []

    def feed(self, data: bytes) -> None:
        self.buffer += data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > MAX_LINE_CHARS * 4:  # a line without end: cut, never grow
            lines.append(self.buffer)
            self.buffer = b""
        for raw in lines:
            text = raw.decode("utf-8", errors="replace")[:MAX_LINE_CHARS].rstrip()
            if text:
                self.tail = [*self.tail[-19:], text]
                self.on_line(text)

    def close(self) -> None:
        if self.buffer:
            self.feed(b"\n")


def ssh_stream(
    spec: HostSpec,
    command: str,
    on_line: Callable[[str], None],
    *,
    connect_timeout: float = 20.0,
    idle_timeout: float = 300.0,
    cancel: threading.Event | None = None,
) -> SshResult:
    """Run ``command`` on the box on a pty, calling ``on_line`` with each output line (stdout
    and stderr together, as a terminal shows them); blocking. Cut off when ``cancel`` is set or
    no output came for ``idle_timeout`` seconds: the session closes and the command ends with
    it (its pty hangs up)."""
    cancel = cancel or threading.Event()
    lines = _Lines(on_line)
    if spec.ssh_client == "openssh":
        return _openssh_stream(spec, command, lines, connect_timeout, idle_timeout, cancel)
    client = _paramiko_client(spec, connect_timeout)
    try:
        channel = client.get_transport().open_session(timeout=connect_timeout)
        channel.get_pty(width=200)
        channel.exec_command(command)
        last = time.monotonic()
        while True:
            if cancel.is_set():
                return SshResult(None, reason="cancelled")
            if channel.recv_ready():
                data = channel.recv(65536)
                if data:
                    lines.feed(data)
                    last = time.monotonic()
                continue
            if channel.exit_status_ready() and not channel.recv_ready():
                lines.close()
                return SshResult(channel.recv_exit_status(), "\n".join(lines.tail))
            if channel.closed or not client.get_transport().is_active():
                return SshResult(None, "\n".join(lines.tail), "the connection dropped")
            if time.monotonic() - last > idle_timeout:
                return SshResult(None, "\n".join(lines.tail), f"silent for {idle_timeout:g} s")
            select.select([channel], [], [], 0.2)
    finally:
        client.close()


def _openssh_stream(
    spec: HostSpec,
    command: str,
    lines: _Lines,
    connect_timeout: float,
    idle_timeout: float,
    cancel: threading.Event,
) -> SshResult:
    proc = subprocess.Popen(
        [*_openssh_args(spec, connect_timeout, tty=True), command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    last = time.monotonic()
    try:
        while True:
            if cancel.is_set():
                return SshResult(None, reason="cancelled")
            ready, _w, _x = select.select([fd], [], [], 0.2)
            if ready:
                data = os.read(fd, 65536)
                if not data:
                    lines.close()
                    return SshResult(proc.wait(connect_timeout), "\n".join(lines.tail))
                lines.feed(data)
                last = time.monotonic()
            elif time.monotonic() - last > idle_timeout:
                return SshResult(None, "\n".join(lines.tail), f"silent for {idle_timeout:g} s")
    finally:
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            if proc.poll() is None:
                proc.kill()
        proc.stdout.close()
