"""Asking another box about its hardware: ``paitui hw --json`` over SSH when paitui is installed
there (bounded in time), else the engine's ``/info``.

SSH goes the way the host's engine connection goes (``services.fleet.ssh_exec``).
"""

from __future__ import annotations

from paitui.domain.hardware.remote import (
    RemoteHardware,
    from_engine_info,
    parse_report,
)
from paitui.services.engine.deadline import in_daemon_thread
from paitui.services.fleet.hosts import HostEngine
from paitui.services.ssh.session import NOT_FOUND, ssh_run

#: Seconds the remote ``paitui hw --json`` may take, connection included.
HW_TIMEOUT_S = 20.0


def _why_not(code: int, err: bytes, command: str) -> str:
    text = err.decode("utf-8", errors="replace").strip().splitlines()
    last = text[-1][:200] if text else ""
    if code == NOT_FOUND:
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
