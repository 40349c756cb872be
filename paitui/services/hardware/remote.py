"""Asking another box about its hardware: ``paitui hw --json`` over SSH when paitui is installed
there (bounded in time), else the engine's ``/info``.

SSH goes the way the host's engine connection goes: paramiko (``$HOME/.ssh/config`` and
``known_hosts``, unknown host keys refused) or the ssh binary in batch mode.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from paitui.domain.fleet.hosts import HostSpec
from paitui.domain.hardware.remote import (
    MAX_REPORT_BYTES,
    RemoteHardware,
    from_engine_info,
    parse_report,
)
from paitui.services.engine.deadline import in_daemon_thread
from paitui.services.fleet.hosts import HostEngine

#: Seconds the remote ``paitui hw --json`` may take, connection included.
HW_TIMEOUT_S = 20.0


def _paramiko_run(spec: HostSpec, command: str, timeout: float) -> tuple[int, bytes, bytes]:
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
        _stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
        out = stdout.read(MAX_REPORT_BYTES + 1)
        err = stderr.read(4096)
        return stdout.channel.recv_exit_status(), out, err
    finally:
        client.close()


def _openssh_run(spec: HostSpec, command: str, timeout: float) -> tuple[int, bytes, bytes]:
    args = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, int(timeout))}"]
    if spec.ssh_port:
        args += ["-p", str(spec.ssh_port)]
    args += [spec.ssh_destination or "localhost", command]
    proc = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout, proc.stderr[-4096:]


def ssh_run(spec: HostSpec, command: str, timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``command`` on the box (blocking): exit status, stdout, the end of stderr."""
    runner = _openssh_run if spec.ssh_client == "openssh" else _paramiko_run
    return runner(spec, command, timeout)


def _why_not(code: int, err: bytes, command: str) -> str:
    text = err.decode("utf-8", errors="replace").strip().splitlines()
    last = text[-1][:200] if text else ""
    if code == 127:
        return f"paitui is not installed there ({command!r} not found)"
    return f"{command!r} exited {code}" + (f": {last}" if last else "")


async def host_hardware(engine: HostEngine, timeout: float = HW_TIMEOUT_S) -> RemoteHardware:
    """What the host's box has: paitui's own report over SSH, else what its engine tells."""
    spec = engine.spec
    note = ""
    if spec.scheme == "ssh":
        command = f"{spec.paitui} hw --json"
        try:
            code, out, err = await in_daemon_thread(
                lambda: ssh_run(spec, command, timeout), timeout
            )
        except Exception as exc:
            note = f"could not ask paitui over SSH: {exc or type(exc).__name__}"
        else:
            if code == 0:
                try:
                    return parse_report(spec.name, out)
                except ValueError as exc:
                    note = f"{command!r} answered, but {exc}"
            else:
                note = _why_not(code, err, command)
    else:
        note = (
            "a local socket: paitui hw tells this box's hardware"
            if spec.hostname is None
            else f"{spec.scheme}:// host: paitui there is asked only over ssh://"
        )
    info = await engine.info(timeout)
    return from_engine_info(spec.name, info, note)
