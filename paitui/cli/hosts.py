"""``paitui hosts``, and ``ls``/``start``/``stop`` across hosts (``--host NAME``).

Hosts are the engine paitui uses by default, the docker contexts and ``[hosts.NAME]`` tables in
config.toml. Every host is asked on its own with its own time limit: one that is away is
reported unreachable and never holds up the others.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paitui.domain.fleet.hosts import HostList, HostState
    from paitui.domain.fleet.status import AppStatus
    from paitui.services.fleet.hosts import MultiFleet
    from paitui.services.registry import Services


def register(subparsers: Any) -> None:
    """Add ``hosts``."""
    hosts = subparsers.add_parser(
        "hosts",
        help="list the Docker engines paitui follows and whether they answer",
        description="List the hosts (the default engine, docker contexts, [hosts.NAME] in "
        "config.toml) with reachability and engine version.",
    )
    hosts.add_argument("--json", action="store_true", help="print JSON for scripts")
    hosts.add_argument(
        "--hw",
        action="store_true",
        help="also ask each reachable host about its hardware (paitui hw --json over SSH)",
    )
    hosts.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long each host may take to answer (default 5)",
    )
    hosts.set_defaults(func=run_hosts)


def add_host_option(parser: argparse.ArgumentParser) -> None:
    """``--host NAME`` on ls/start/stop."""
    parser.add_argument(
        "--host", metavar="NAME", default=None, help="the host to act on (paitui hosts lists them)"
    )


def _safe(text: str) -> str:
    from paitui.domain.text_safety import terminal_safe

    return terminal_safe(text)


def _error(message: str) -> int:
    print(f"paitui: error: {_safe(message)}", file=sys.stderr)
    return 1


def _services(args: argparse.Namespace) -> Services:
    from paitui.cli.common import services_from_args

    return services_from_args(args)


def host_list(services: Services) -> HostList:
    """The hosts from the settings, with each bad entry printed as a warning."""
    hosts = services.hosts
    for problem in hosts.problems:
        print(f"paitui: {_safe(problem)}", file=sys.stderr)
    return hosts


def multi_fleet(
    services: Services, hosts: HostList, name: str | None, timeout: float
) -> MultiFleet:
    """A fleet over the named host (all when None); LookupError for an unknown name."""
    from paitui.cli.catalog import report_issues
    from paitui.services.fleet.hosts import MultiFleet

    picked = hosts.pick(name)
    return MultiFleet(
        picked, report_issues(services.catalog), services.settings, answer_timeout=timeout
    )


def _print_table(table: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


# --- hosts ------------------------------------------------------------------------------------


def run_hosts(args: argparse.Namespace) -> int:
    """List hosts with reachability, version and (``--hw``) hardware."""
    from paitui.domain.hardware.remote import RemoteHardware
    from paitui.services.hardware.remote import host_hardware

    services = _services(args)
    hosts = host_list(services)
    fleet = multi_fleet(services, hosts, None, args.timeout)

    async def ask() -> tuple[list[HostState], dict[str, RemoteHardware | str]]:
        try:
            _rows, states = await fleet.snapshot()
            hardware: dict[str, RemoteHardware | str] = {}
            if args.hw:

                async def hw(name: str) -> None:
                    try:
                        hardware[name] = await host_hardware(fleet.members[name].engine)
                    except Exception as exc:
                        hardware[name] = f"hardware unknown: {exc}"

                await asyncio.gather(*(hw(s.name) for s in states if s.reachable))
            return states, hardware
        finally:
            await fleet.close()

    states, hardware = asyncio.run(ask())
    specs = {h.name: h for h in hosts.hosts}
    if args.json:
        from paitui.cli.common import print_json

        out = []
        for s in states:
            spec = specs[s.name]
            row: dict[str, Any] = {
                "name": s.name,
                "endpoint": spec.endpoint,
                "source": spec.source,
                "current": spec.current,
                "reachable": bool(s.reachable),
                "version": s.version,
                "os": s.os,
                "error": s.message or None,
            }
            if args.hw:
                hw = hardware.get(s.name)
                row["hardware"] = hw.to_json() if isinstance(hw, RemoteHardware) else hw
            out.append(row)
        print_json({"hosts": out, "problems": list(hosts.problems)})
        return 0
    table: list[tuple[str, ...]] = [("HOST", "ENDPOINT", "STATE", "ENGINE", "FROM")]
    for s in states:
        spec = specs[s.name]
        engine = f"{s.version} ({s.os})" if s.version else (s.message[:80] if s.message else "")
        name = s.name + (" *" if spec.current else "")
        table.append(tuple(map(_safe, (name, spec.endpoint, s.label, engine, spec.source))))
    _print_table(table)
    for name, hw in hardware.items():
        print(f"\n{_safe(name)}:")
        for line in hardware_lines(hw):
            print(f"  {_safe(line)}")
    return 0


def hardware_lines(hw: Any) -> list[str]:
    """A remote box's hardware as lines for the terminal."""
    from paitui.domain.hardware.remote import RemoteHardware

    if not isinstance(hw, RemoteHardware):
        return [str(hw)]
    lines = [f"from: {hw.source}"]
    for g in hw.gpus:
        vram = f", {g.vram_total / 2**30:.1f} GiB" if g.vram_total else ""
        lines.append(f"GPU: {g.name}{vram}" + (f" ({g.driver})" if g.driver else ""))
    if hw.ranking:
        lines.append(f"usable: {', '.join(hw.ranking)}")
    for label, value in (("OS", hw.os), ("kernel", hw.kernel), ("engine", hw.engine_version)):
        if value:
            lines.append(f"{label}: {value}")
    if hw.cpus:
        lines.append(f"CPUs: {hw.cpus}")
    if hw.ram_bytes:
        lines.append(f"RAM: {hw.ram_bytes / 2**30:.1f} GiB")
    if hw.source == "engine only":
        lines.append(f"runtimes: {', '.join(hw.runtimes) or 'none reported'}")
        lines.append(f"CDI devices: {', '.join(hw.cdi_devices) or 'none'}")
        lines.append(f"not known without paitui there: {'; '.join(hw.missing)}")
    lines += [f"note: {n}" for n in hw.notes]
    return lines


# --- ls / start / stop on hosts -----------------------------------------------------------------


def wants_hosts(args: argparse.Namespace, services: Services) -> bool:
    """Whether ``ls`` should go across hosts: ``--host`` given, more than one configured, or
    the one engine on another box (its loopback ports are not probed from here)."""
    if getattr(args, "host", None):
        return True
    hosts = services.hosts.hosts
    return len(hosts) > 1 or any(h.remote for h in hosts)


def status_row(
    fleet: MultiFleet, host: str, status: AppStatus, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``paitui ls --json``'s row of an app on a host, links with that host's ``ssh -L`` line."""
    from paitui.cli.status import _status_json
    from paitui.domain.fleet.hosts import NOT_PROBED, host_links

    member = fleet.members[host]
    row = {"host": host, **_status_json(member.fleet, status)}
    links = host_links(
        member.fleet.app(status.app_id),
        status.ports,
        member.spec,
        os.environ if env is None else env,
        socket.gethostname(),
    )
    row["ssh_tunnel"] = links.ssh_tunnel
    # False: the app's port is on the remote box's loopback; its readiness is not known here.
    row["probed"] = status.detail != NOT_PROBED
    return row


def ls_exit_status(args: argparse.Namespace, states: list[HostState]) -> int:
    """``ls`` across hosts exits 1 only when the host named with ``--host`` (or, with
    ``--strict``, any host) did not answer; an unreachable host is otherwise marked, not fatal
    (a stale docker context must not fail every ``ls``)."""
    away = [s for s in states if not s.reachable]
    if not away:
        return 0
    return 1 if getattr(args, "host", None) or getattr(args, "strict", False) else 0


def run_ls_hosts(args: argparse.Namespace) -> int:
    """``paitui ls`` across hosts; see ``ls_exit_status`` for when it exits 1."""
    from paitui.domain.fleet.hosts import state_label
    from paitui.domain.fleet.status import format_uptime

    services = _services(args)
    hosts = host_list(services)
    try:
        fleet = multi_fleet(services, hosts, args.host, args.timeout)
    except LookupError as exc:
        return _error(str(exc))

    async def ask() -> tuple[list[tuple[str, AppStatus]], list[HostState]]:
        try:
            return await fleet.snapshot()
        finally:
            await fleet.close()

    rows_raw, states = asyncio.run(ask())
    rows_raw.sort(key=lambda r: (r[0], r[1].app_id))
    rows = [status_row(fleet, host, status) for host, status in rows_raw]
    away = [s for s in states if not s.reachable]
    code = ls_exit_status(args, states)
    for s in away:
        print(f"paitui: host {_safe(s.name)} unreachable: {_safe(s.message)}", file=sys.stderr)
    if args.json:
        from paitui.cli.common import print_json

        # The apps of an unreachable host are not known: one row per such host says so.
        away_rows = [
            {"host": s.name, "app": None, "state": "unknown", "host_unreachable": s.message}
            for s in away
        ]
        print_json(rows + away_rows)
        return code
    if not rows and not away:
        print("No managed apps. Start one with: paitui start APP [--host NAME]")
        return code
    table: list[tuple[str, ...]] = [("HOST", "APP", "STATE", "UPTIME", "PORTS", "LINK")]
    for row, (_host, status) in zip(rows, rows_raw, strict=True):
        ports = " ".join(sorted({f"{p['host_port']}->{p['container_port']}" for p in row["ports"]}))
        link = row["links"][0]["url"] if row["links"] else ""
        uptime = format_uptime(status.uptime(time.time()))
        cells = (row["host"], row["app"], state_label(status), uptime, ports, link)
        table.append(tuple(map(_safe, cells)))
    for s in away:
        table.append(tuple(map(_safe, (s.name, "?", "unreachable", "", "", ""))))
    _print_table(table)
    for tunnel in sorted({(r["ssh_tunnel"] or "") for r in rows} - {""}):
        print(f"\nTo reach it from here, run first: {_safe(tunnel)}")
    return code


def run_stop_host(args: argparse.Namespace) -> int:
    """``paitui stop APP --host NAME``."""
    from paitui.domain.engine.errors import EngineError
    from paitui.services.engine.deadline import deadline

    services = _services(args)
    hosts = host_list(services)
    try:
        fleet = multi_fleet(services, hosts, args.host, 5.0)
    except LookupError as exc:
        return _error(str(exc))
    engine = fleet.members[args.host].engine

    async def stop() -> int | None:
        try:
            with deadline(max(args.timeout, 0) + 15.0):
                info = await engine.stop(args.app, timeout=args.timeout)
            return info.exit_code
        finally:
            await fleet.close()

    try:
        code = asyncio.run(stop())
    except EngineError as exc:
        return _error(f"{args.host}: {exc}")
    print(
        f"stopped {args.app} on {args.host}" + (f" (exit code {code})" if code is not None else "")
    )
    return 0


def run_start_host(args: argparse.Namespace) -> int:
    """``paitui start APP --host NAME``: pulled and run on that host's engine; planned for that
    box when it is another one (``cli.remote_start``), else as ``paitui start``."""
    from paitui.cli.engine import _plan
    from paitui.cli.status import _ProgressLine
    from paitui.domain.engine.errors import EngineError
    from paitui.services.engine.deadline import deadline

    services = _services(args)
    hosts = host_list(services)
    try:
        fleet = multi_fleet(services, hosts, args.host, 10.0)
    except LookupError as exc:
        return _error(str(exc))
    member = fleet.members[args.host]

    async def ping() -> None:
        with deadline(10.0):
            await member.engine.connect()

    try:
        asyncio.run(ping())
    except EngineError as exc:
        asyncio.run(fleet.close())
        return _error(f"{args.host}: {exc}")
    if member.spec.remote:
        from paitui.cli.remote_start import plan_on_host

        planned = plan_on_host(args, services, member.engine)
        if isinstance(planned, int):
            asyncio.run(fleet.close())
            return planned
        plan, notes = planned
        for note in notes:
            print(f"note: {_safe(note)}", file=sys.stderr)
    else:
        local_plan = _plan(args, pull_models=True)
        if isinstance(local_plan, int):
            return local_plan
        plan = local_plan
    for warning in plan.warnings:
        print(f"note: {_safe(warning)}", file=sys.stderr)

    async def launch() -> AppStatus:
        try:
            return await member.fleet.launch(
                plan, on_progress=_ProgressLine(), pull=True if args.pull else None
            )
        finally:
            await fleet.close()

    try:
        status = asyncio.run(launch())
    except EngineError as exc:
        return _error(f"{args.host}: {exc}")
    row = status_row(fleet, args.host, status)
    if args.json:
        from paitui.cli.common import print_json

        print_json(row)
        return 0
    print(f"started {plan.app_id} ({plan.variant}) as {plan.name} on {args.host}")
    for link in row["links"]:
        print(f"  {_safe(link['label'])}: {_safe(link['url'])}")
    if row["ssh_tunnel"]:
        print(f"To reach it from here, run first: {_safe(row['ssh_tunnel'])}")
    return 0
