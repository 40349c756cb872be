"""``paitui ls``, ``paitui start``, ``paitui stop`` and ``paitui wait``: running apps for scripts.

``ls`` lists the managed apps with their live state (one probe each) and links; ``start`` plans,
pulls (with progress) and launches an app and prints its link; ``stop`` stops it; ``wait``
follows the engine's events and the probes until the app is ready (exit 0), or crashed,
stopped or out of time (exit 1, with the reason).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

from paitui.domain.units import format_size

if TYPE_CHECKING:
    from collections.abc import Callable

    from paitui.cli.common import Subparsers
    from paitui.domain.engine.containers import PullProgress
    from paitui.domain.engine.errors import EngineError
    from paitui.domain.fleet.status import AppStatus
    from paitui.domain.gpu.usage import GpuSnapshot
    from paitui.domain.hardware.report import HardwareReport
    from paitui.domain.launch.plan import LaunchPlan
    from paitui.services.engine.build import BuildProgress
    from paitui.services.fleet.tracker import Fleet
    from paitui.services.registry import Services


def register(subparsers: Subparsers) -> None:
    """Add ``ls``, ``start``, ``stop`` and ``wait``."""
    from paitui.cli.engine import _add_choices
    from paitui.cli.hosts import add_host_option

    ls = subparsers.add_parser(
        "ls",
        help="list managed apps with their state and links",
        description="List the apps paitui manages: state (probed now), uptime, ports and links. "
        "Across several hosts, one that does not answer is listed as unreachable (its apps "
        "unknown) and ls still exits 0; it exits 1 when the host named with --host does not "
        "answer, or any host with --strict. An app on another box whose port is on that box's "
        "loopback reads 'not probed': open the ssh -L line printed below the table.",
    )
    ls.add_argument("--json", action="store_true", help="print JSON for scripts")
    ls.add_argument("--strict", action="store_true", help="exit 1 when any host does not answer")
    ls.add_argument(
        "--timeout",
        type=_seconds,
        default=LS_TIMEOUT_S,
        metavar="SECONDS",
        help="give up when the engine has not answered in this many seconds "
        f"(default {LS_TIMEOUT_S:g})",
    )
    add_host_option(ls)
    ls.set_defaults(func=run_ls)

    start = subparsers.add_parser(
        "start",
        help="start an app from the catalog",
        description="Plan, pull (with progress) and start APP; prints its link.",
    )
    _add_choices(start)
    start.add_argument(
        "--pull",
        action="store_true",
        help="pull the image even when it is present (update a moving tag)",
    )
    start.add_argument("--json", action="store_true", help="print the result as JSON")
    add_host_option(start)
    start.set_defaults(func=run_start)

    stop = subparsers.add_parser(
        "stop",
        help="stop a running app",
        description="Stop APP's container (it can be started again).",
    )
    stop.add_argument("app", metavar="APP", help="app id (paitui ls lists them)")
    stop.add_argument(
        "--timeout",
        type=int,
        default=10,
        metavar="SECONDS",
        help="seconds to wait for a clean stop before killing (default 10)",
    )
    add_host_option(stop)
    stop.set_defaults(func=run_stop)

    wait = subparsers.add_parser(
        "wait",
        help="wait until an app is ready",
        description="Wait until APP answers its health check. Exit 0 when ready; 1 when it "
        "crashed, stopped or did not become ready in time.",
    )
    wait.add_argument("app", metavar="APP", help="app id")
    wait.add_argument(
        "--ready",
        action="store_true",
        default=True,
        help="wait for the ready state (the default and only condition)",
    )
    wait.add_argument(
        "--timeout",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="give up after this many seconds, whatever the engine does (default 600)",
    )
    wait.add_argument("--quiet", "-q", action="store_true", help="print only failures")
    wait.set_defaults(func=run_wait)


#: How long ``ls`` waits for the engine by default: a listing takes well under a second.
LS_TIMEOUT_S = 5.0
#: What ``stop`` allows the engine beyond the clean-stop time before it gives up.
STOP_SLACK_S = 15.0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be a finite number >= 0, not {text!r}")
    return value


def _error(message: str) -> int:
    print(f"paitui: error: {_safe(message)}", file=sys.stderr)
    return 1


def _safe(text: str, multiline: bool = False) -> str:
    """Label values, catalog names, engine text and logs as a terminal may show them."""
    from paitui.domain.text_safety import terminal_safe

    return terminal_safe(text, multiline=multiline)


def _services(args: argparse.Namespace) -> Services:
    from paitui.cli.common import services_from_args

    return services_from_args(args)


def _uptime(seconds: float | None) -> str:
    from paitui.domain.fleet.status import format_uptime

    return format_uptime(seconds)


def _status_json(fleet: Fleet, status: AppStatus) -> dict[str, Any]:
    from paitui.domain.fleet.links import app_links

    links = app_links(fleet.app(status.app_id), status.ports, os.environ, socket.gethostname())
    return {
        "app": status.app_id,
        "variant": status.variant,
        "state": str(status.state),
        "detail": status.detail,
        "exit_code": status.exit_code,
        "container": status.name,
        "container_id": status.container_id,
        "image": status.image,
        "uptime_s": status.uptime(time.time()),
        "ports": [
            {
                "host_ip": p.host_ip,
                "host_port": p.host_port,
                "container_port": p.container_port,
                "protocol": p.protocol,
            }
            for p in status.ports
        ],
        "links": [{"label": x.label, "url": x.url, "kind": x.kind} for x in links.links],
        "ssh_tunnel": links.ssh_tunnel,
        "warnings": list(links.warnings),
        "last_logs": list(status.last_logs),
    }


def _fleet(services: Services) -> Fleet:
    from paitui.cli.catalog import report_issues
    from paitui.services.fleet.tracker import Fleet

    return Fleet(services.engine, report_issues(services.catalog), services.settings)


# --- ls ---------------------------------------------------------------------------------------


def run_ls(args: argparse.Namespace) -> int:
    """List managed apps."""
    from paitui.cli.hosts import run_ls_hosts, wants_hosts
    from paitui.domain.engine.errors import EngineError
    from paitui.services.engine.deadline import deadline

    services = _services(args)
    if wants_hosts(args, services):
        return run_ls_hosts(args)
    fleet = _fleet(services)

    async def snapshot() -> list[AppStatus]:
        try:
            with deadline(args.timeout):
                return await fleet.snapshot()
        finally:
            await services.engine.close()

    try:
        statuses = sorted(asyncio.run(snapshot()), key=lambda s: s.app_id)
    except EngineError as exc:
        return _error(str(exc))
    host = services.hosts.hosts[0].name  # the one host: "local" or its docker context
    rows = [{"host": host, **_status_json(fleet, s)} for s in statuses]
    from paitui.cli import gpu_fields

    try:
        gpu_fields.add_ls_fields(rows, *gpu_fields.ls_sample(rows))
    except ValueError as exc:  # a malformed PAITUI_GPU_* variable
        return _error(str(exc))
    if args.json:
        from paitui.cli.common import print_json

        print_json(rows)
        return 0
    if not rows:
        print("No managed apps. Start one with: paitui start APP")
        return 0
    table: list[tuple[str, ...]] = [("APP", "STATE", "UPTIME", "VRAM", "PORTS", "LINK")]
    for row, status in zip(rows, statuses, strict=True):
        state = row["state"] + (
            f" ({row['exit_code']})"
            if row["exit_code"] is not None and row["state"] in ("exited", "crashed")
            else ""
        )
        ports = " ".join(sorted({f"{p['host_port']}->{p['container_port']}" for p in row["ports"]}))
        link = row["links"][0]["url"] if row["links"] else ""
        table.append(
            tuple(
                map(
                    _safe,
                    (
                        row["app"],
                        state,
                        _uptime(status.uptime(time.time())),
                        gpu_fields.ls_cell(row),
                        ports,
                        link,
                    ),
                )
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    notes = {(row["ssh_tunnel"] or "") for row in rows} - {""}
    for tunnel in sorted(notes):
        print(f"\nOver SSH, run on your laptop first: {_safe(tunnel)}")
    for row in rows:
        for warning in row["warnings"]:
            print(f"warning: {_safe(row['app'])}: {_safe(warning)}", file=sys.stderr)
    return 0


# --- start ------------------------------------------------------------------------------------


class _ProgressLine:
    """Pull progress on one line of stderr (a new line every few seconds when not a tty)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, progress: PullProgress) -> None:
        now = time.monotonic()
        if not progress.done and now - self.last < (0.2 if self.tty else 3.0):
            return
        self.last = now
        if progress.total:
            pct = 100 * progress.downloaded / progress.total
            eta = f", {progress.eta:.0f} s left" if progress.eta else ""
            total = format_size(progress.total, unit="MiB")
            speed = format_size(progress.speed, unit="MiB")
            line = f"pulling {progress.image}: {pct:5.1f} % of {total} at {speed}/s{eta}"
        else:
            line = f"pulling {progress.image}: {progress.status or 'starting'}"
        if progress.done:
            line = f"pulled {progress.image}"
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + line + ("\n" if progress.done else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _build_line(progress: BuildProgress) -> None:
    """Build progress on stderr: each step, and the last words of a failing one."""
    where = f"[{progress.step}/{progress.steps}] " if progress.step else ""
    sys.stderr.write(f"building {progress.image}: {where}{_safe(progress.line)}\n")
    sys.stderr.flush()


#: How long ``start`` waits for the engine's first answer before it says the engine is hung.
START_ANSWER_S = 10.0


def _engine_hung(args: argparse.Namespace) -> str | None:
    """Why the engine cannot be used now, asked before planning: a hung engine accepts the
    connection and never answers, and the launch's pulls and creates may rightly take long."""
    from paitui.domain.engine.errors import EngineError
    from paitui.services.engine.deadline import deadline

    services = _services(args)

    async def ping() -> None:
        try:
            with deadline(START_ANSWER_S):
                await services.engine.connect()
        finally:
            await services.engine.close()

    try:
        asyncio.run(ping())
    except EngineError as exc:
        return str(exc)
    return None


def run_start(args: argparse.Namespace) -> int:
    """Plan, pull and start an app; print its links."""
    from paitui.cli.engine import plan_with_hardware
    from paitui.domain.engine.errors import EngineError, ErrorKind
    from paitui.domain.fleet.links import app_links

    if getattr(args, "host", None):
        from paitui.cli.hosts import run_start_host

        return run_start_host(args)
    hung = _engine_hung(args)
    if hung:
        return _error(hung)
    planned = plan_with_hardware(args, pull_models=True)  # a --model not installed is pulled
    if isinstance(planned, int):
        return planned
    plan, hardware = planned
    services = _services(args)
    fleet = _fleet(services)
    for warning in plan.warnings:
        print(f"note: {_safe(warning)}", file=sys.stderr)
    _fit_warning(plan, hardware, fleet)

    async def launch() -> AppStatus:
        try:
            if plan.build is not None:
                # Always through the engine's cache: an edited checkout is picked up, an
                # unchanged one costs a cache check.
                await services.engine.build(plan, on_progress=_build_line)
            return await fleet.launch(
                plan,
                on_progress=_ProgressLine(),
                pull=False if plan.build else (True if args.pull else None),
            )
        finally:
            await fleet.close()
            await services.engine.close()

    try:
        status = asyncio.run(launch())
    except EngineError as exc:
        if exc.kind == ErrorKind.PORT_IN_USE:
            return _error(_port_taken(exc, plan, services))
        return _error(str(exc))
    if args.json:
        from paitui.cli.common import print_json

        print_json(_status_json(fleet, status))
        return 0
    print(f"started {plan.app_id} ({plan.variant}) as {plan.name}")
    links = app_links(fleet.app(plan.app_id), status.ports, os.environ, socket.gethostname())
    for link in links.links:
        print(f"  {_safe(link.label)}: {_safe(link.url)}")
    if links.ssh_tunnel:
        print(f"Over SSH, run on your laptop first: {_safe(links.ssh_tunnel)}")
    for warning in links.warnings:
        print(f"warning: {_safe(warning)}", file=sys.stderr)
    print(f"(paitui wait {plan.app_id} --ready tells when it answers)")
    return 0


def _fit_warning(plan: LaunchPlan, hardware: HardwareReport, fleet: Fleet) -> None:
    """Say when the plan's model may not fit in the GPU's free memory now (live: counting what
    other apps hold, named through the fleet); never stops the start."""
    from paitui.services.gpu.sampler import sampler_from_env
    from paitui.services.models.will_fit import LiveGpus, start_warning

    if plan.accel.value == "cpu":
        return

    def app_of() -> dict[str, str]:
        async def ask() -> list[AppStatus]:
            try:
                return await fleet.snapshot()
            finally:
                await fleet.engine.close()

        try:
            return {s.container_id: s.app_id for s in asyncio.run(ask()) if s.container_id}
        except Exception:  # no names: short container ids stand in
            return {}

    try:
        sampler = sampler_from_env(default_helper="run")  # as ``paitui ls`` reads it
    except ValueError as exc:  # a bad PAITUI_GPU_* variable: the report's figures, and why
        bad = exc

        def sample() -> GpuSnapshot:
            raise bad

        sampler = None
    try:
        source = LiveGpus(sampler.sample if sampler else sample, hardware, app_of)
        line = start_warning(plan, source)
        if line and source.reason:
            line += f" ({source.reason})"
    except Exception:  # an estimate must never stop a start
        return
    finally:
        if sampler is not None and sampler.helper is not None:
            sampler.helper.close()
    if line:
        print(_safe(line), file=sys.stderr)


def _port_taken(exc: EngineError, plan: LaunchPlan, services: Services) -> str:
    """The engine refused a host port (taken after the plan checked it): name it and a free one."""
    import re

    from paitui.cli.engine import port_check
    from paitui.domain.launch.planner import first_free_port

    hosts = [p.host_port for p in plan.ports]
    named = re.search(r"port (\d+)", exc.message)
    port = int(named.group(1)) if named else (hosts[0] if hosts else None)
    if port is None:
        return str(exc)
    where = f"{plan.ports[0].host_ip}:{port}" if plan.ports else str(port)
    free = first_free_port(port + 1, port_check(services)) if port < 65535 else None
    if hosts and port == hosts[0] and free is not None:
        instead = f"start it on a free one: paitui start {plan.app_id} --port {free}"
    else:
        instead = f"run paitui start {plan.app_id} again: it skips ports that are taken now"
    return (
        f"the engine refused host port {where}: it is already in use (taken after paitui "
        f"checked it, or by a container paitui does not manage); {instead}, or free it "
        f"(ss -ltnp 'sport = :{port}' shows who holds it)"
    )


# --- stop -------------------------------------------------------------------------------------


def run_stop(args: argparse.Namespace) -> int:
    """Stop an app's container."""
    from paitui.domain.engine.errors import EngineError
    from paitui.services.engine.deadline import deadline

    if getattr(args, "host", None):
        from paitui.cli.hosts import run_stop_host

        return run_stop_host(args)
    services = _services(args)

    async def stop() -> int | None:
        try:
            with deadline(max(args.timeout, 0) + STOP_SLACK_S):
                info = await services.engine.stop(args.app, timeout=args.timeout)
            return info.exit_code
        finally:
            await services.engine.close()

    try:
        code = asyncio.run(stop())
    except EngineError as exc:
        return _error(str(exc))
    print(f"stopped {args.app}" + (f" (exit code {code})" if code is not None else ""))
    return 0


# --- wait -------------------------------------------------------------------------------------


async def wait_ready(
    fleet: Fleet, app_id: str, timeout: float, say: Callable[[str], object] | None = None
) -> tuple[bool, str]:
    """Follow ``app_id`` until ready (True) or crashed/stopped/timed out (False, why)."""
    from paitui.domain.fleet.status import AppState

    changed = asyncio.Event()
    last_said: list[str] = []

    def on_change(status: AppStatus) -> None:
        if status.app_id != app_id:
            return
        changed.set()
        line = f"{app_id}: {status.state}" + (f" ({status.detail})" if status.detail else "")
        if say is not None and (not last_said or last_said[-1] != line):
            last_said.append(line)
            say(line)

    fleet.subscribe(on_change)
    deadline = time.monotonic() + timeout
    await fleet.start()
    crash_seen: float | None = None
    while True:
        status = fleet.get(app_id)
        if status is not None:
            if status.state == AppState.READY:
                return True, f"{app_id} is ready"
            if status.final:
                # A crash's last log lines arrive just after the crash: give them a moment.
                crash_seen = crash_seen or time.monotonic()
                if (
                    status.state != AppState.CRASHED
                    or status.last_logs
                    or time.monotonic() - crash_seen > 3.0
                ):
                    return False, _why(status)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            connection = fleet.connection
            if connection is not None and not connection.connected:
                return False, f"{app_id} not ready after {timeout:g} s: {connection.message}"
            if status is None:
                return False, f"{app_id} has no container after {timeout:g} s (start it first)"
            detail = f": {status.detail}" if status.detail else ""
            return False, f"{app_id} not ready after {timeout:g} s (state {status.state}{detail})"
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), min(remaining, 0.5) if crash_seen else remaining)


def _why(status: AppStatus) -> str:
    why = f"{status.app_id} {status.detail or status.state}"
    if status.last_logs:
        why += "\nlast log lines:\n" + "\n".join(f"  {x}" for x in status.last_logs)
    return why


def run_wait(args: argparse.Namespace) -> int:
    """Wait until an app is ready."""
    from paitui.services.engine.deadline import deadline

    services = _services(args)
    fleet = _fleet(services)
    say = None if args.quiet else (lambda line: print(_safe(line), file=sys.stderr, flush=True))

    async def wait() -> tuple[bool, str]:
        try:
            # Every engine call inside gets what is left of the timeout, no more.
            with deadline(args.timeout):
                return await wait_ready(fleet, args.app, args.timeout, say)
        finally:
            await fleet.close()
            await services.engine.close()

    ok, why = asyncio.run(wait())
    if ok:
        if not args.quiet:
            print(_safe(why))
        return 0
    print(f"paitui: {_safe(why, multiline=True)}", file=sys.stderr)
    return 1
