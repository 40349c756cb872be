"""paitui against a peer (lazydocker) in one run: every row of issue 17's table, windows alternated.

    python bench/peer.py [--peer PATH] [--rounds 3] [--window 60] [--settle 10] [--apps 50]
                         [--loggers 10] [--rate 20] [--json FILE]

Two private dockerds of the run's own (own sockets, bridges and data dirs under /tmp; the
machine's engine is untouched): one holds ``--apps`` ready busybox stand-ins (paitui's labels,
an httpd each, up more than ``--min-uptime`` s before the first idle window), the other
``--loggers`` stand-ins printing ``--rate`` lines a second each, so the log load never shows in the
idle figures. Each client runs in a private tmux pane, 120x40, fresh config/state dirs. Per round,
paitui then the peer (the order alternates every round):

1. start-up, twice: launch → first frame, launch → the apps listed (paitui: once on the Desktop,
   once with key 5 sent at the first frame for the Running screen; the peer: a container name);
2. idle: after ``--settle`` s, CPU of the client and of the engine side (dockerd, containerd, the
   shims, docker-proxy) over ``--window`` s, per screen (paitui: Desktop and Running), and RSS;
3. logs: on the loggers' engine, the Running screen with the first app selected (the peer: its
   first container, whose logs it shows), CPU of both sides over ``--window`` s, RSS at start
   and end.

The pane is polled (``capture-pane``, every 10 ms) with a deadline for known text; nothing polls it
during a CPU window. The 1-minute load average is recorded at the start and end of every window.
Medians over the rounds are printed as a table at the end; without ``--peer``, paitui alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REPO,
    PrivateEngine,
    StandIns,
    TmuxPane,
    first_frame,
    isolated_dirs,
    measure_cpu,
    paitui_argv,
    print_machine,
    raise_on_sigterm,
    rss_bytes,
)

MB = 2**20
#: A state word in a Desktop tile (`· ready`) or a Running-screen row.
_STATE = re.compile(r"\b(ready|running|starting|loading|unhealthy)\b")
_TILE_STATE = re.compile(r"·\s*(ready|running|starting|loading|unhealthy)\b")


# --- what the pane shows ------------------------------------------------------------------------


def paitui_desktop_listed(text: str) -> bool:
    """The Desktop shows a stand-in's tile with its state (`· ready` once the app is managed)."""
    return first_frame(text) and "Bench stand-in" in text and bool(_TILE_STATE.search(text))


def paitui_running_listed(text: str) -> bool:
    """The Running table's header and a stand-in's row in it."""
    return "Uptime" in text and any(
        "Bench stand-in" in line and _STATE.search(line) for line in text.splitlines()
    )


def peer_first_frame(text: str) -> bool:
    """lazydocker's side panels are drawn (their titles)."""
    return "Containers" in text and "Images" in text


def peer_listed(run_id: str) -> Callable[[str], bool]:
    """A stand-in's container name (`paitui-<run id>-NNN`) in lazydocker's Containers panel."""
    return lambda text: f"paitui-{run_id}" in text


# --- one client -------------------------------------------------------------------------------


@dataclass
class Client:
    """How to start one client and tell what it shows."""

    name: str
    argv: Callable[[Path], list[str]]  # catalog → argv
    env: dict[str, str]
    first: Callable[[str], bool]
    listed: Callable[[str, str], Callable[[str], bool]]  # (run id, screen) → check
    screens: tuple[str, ...]  # idle screens, in the order they are measured
    keys: dict[str, str] = field(default_factory=dict)  # screen → key that shows it
    results: dict[str, list[float]] = field(default_factory=dict)

    def add(self, row: str, value: float | None) -> None:
        if value is not None:
            self.results.setdefault(row, []).append(value)


def make_paitui(env: dict[str, str]) -> Client:
    def listed(_run_id: str, screen: str) -> Callable[[str], bool]:
        return paitui_running_listed if screen == "running" else paitui_desktop_listed

    return Client(
        name="paitui",
        argv=lambda catalog: paitui_argv([catalog]),
        env={**env, "PYTHONPATH": str(REPO)},
        first=first_frame,
        listed=listed,
        screens=("desktop", "running"),
        keys={"desktop": "1", "running": "5"},
    )


#: lazydocker runs ``<dockerCompose> config --quiet`` before its first frame; here that is the
#: Python docker-compose v1 (~370 ms), which the peer's machine did not have. ``false`` fails at
#: once, as the real check does outside a compose project (``--peer-compose`` keeps the real one).
PEER_CONFIG = 'commandTemplates:\n  dockerCompose: "false"\n'


def make_peer(path: str, home: str, real_compose: bool) -> Client:
    config = Path(home) / "lazydocker"
    config.mkdir(exist_ok=True)
    (config / "config.yml").write_text("" if real_compose else PEER_CONFIG, encoding="utf-8")
    env = {"HOME": home, "CONFIG_DIR": str(config), "TERM": "screen-256color"}
    return Client(
        name="peer",
        argv=lambda _catalog: [path],
        env=env,
        first=peer_first_frame,
        listed=lambda run_id, _screen: peer_listed(run_id),
        screens=("containers",),
    )


class Measure:
    """One client in one pane against one engine."""

    def __init__(self, pane: TmuxPane, client: Client, host: str, standins: StandIns) -> None:
        self.pane, self.client, self.host, self.standins = pane, client, host, standins

    def launch(self, screen: str) -> tuple[float | None, float | None, int]:
        """(launch → first frame, launch → listed on ``screen``, pid), seconds."""
        c = self.client
        t0 = self.pane.respawn(c.argv(self.standins.catalog), {**c.env, "DOCKER_HOST": self.host})
        t1, text = self.pane.wait_for(c.first, timeout=30)
        if t1 is None:
            raise SystemExit(f"{c.name} showed no first frame within 30 s:\n{text}")
        pid = self.pane.pid()
        key = c.keys.get(screen)
        if key and key != "1":
            self.pane.send_keys(key)
        t2, text = self.pane.wait_for(c.listed(self.standins.run_id, screen), timeout=30)
        if t2 is None:
            print(f"warning: {c.name} listed no app on {screen} within 30 s:\n{text}")
        return t1 - t0, (t2 - t0 if t2 is not None else None), pid

    def quit(self) -> None:
        self.pane.send_keys("q")
        if not self.pane.wait_exit(5):
            self.pane.respawn(["true"])
            self.pane.wait_exit(5)

    def cpu(self, pid: int, engine: PrivateEngine, seconds: float) -> dict[str, float]:
        """Client and engine CPU (% of one core) over a window, and the load around it."""
        load0 = os.getloadavg()[0]
        window = measure_cpu(lambda: {"client": [pid], **engine.pids()}, seconds)
        client = window.percent.pop("client")
        return {
            "client": client,
            "engine": sum(window.percent.values()),
            "load0": load0,
            "load1": os.getloadavg()[0],
        }


def settle(seconds: float) -> None:
    time.sleep(seconds)  # a fixed pause by design: the screen must reach its steady state


def startup_and_idle(
    m: Measure, engine: PrivateEngine, args: argparse.Namespace, loads: list[str]
) -> None:
    c = m.client
    for i, screen in enumerate(("desktop", "running") if c.name == "paitui" else ("list", "list")):
        first, listed, pid = m.launch(screen)
        c.add("first frame", first)
        c.add(f"listed {screen}" if c.name == "paitui" else "listed", listed)
        print(
            f"  {c.name} launch {i + 1}: first frame "
            + (f"{first * 1000:.0f} ms" if first is not None else "never")
            + f", listed ({screen}) "
            + (f"{listed * 1000:.0f} ms" if listed is not None else "never")
        )
        if i == 0 and "idle" in args.only:
            for idle_screen in c.screens:
                key = c.keys.get(idle_screen)
                if key:
                    m.pane.send_keys(key)
                    m.pane.wait_for(c.listed(m.standins.run_id, idle_screen), timeout=30)
                settle(args.settle)
                f = m.cpu(pid, engine, args.window)
                c.add(f"idle client {idle_screen}", f["client"])
                c.add(f"idle engine {idle_screen}", f["engine"])
                rss = (rss_bytes(pid) or 0) / MB
                c.add(f"rss {idle_screen}", rss)
                loads.append(f"{c.name} idle {idle_screen}: {f['load0']:.2f}→{f['load1']:.2f}")
                print(
                    f"  {c.name} idle ({idle_screen}, {args.window:g} s): client "
                    f"{f['client']:.2f} %, engine {f['engine']:.2f} %, RSS {rss:.1f} MB, "
                    f"load {f['load0']:.2f}→{f['load1']:.2f}"
                )
        m.quit()


def logs(m: Measure, engine: PrivateEngine, args: argparse.Namespace, loads: list[str]) -> None:
    c = m.client
    _first, _listed, pid = m.launch("running")
    settle(min(args.settle, 5.0))
    rss0 = (rss_bytes(pid) or 0) / MB
    f = m.cpu(pid, engine, args.window)
    rss1 = (rss_bytes(pid) or 0) / MB
    m.quit()
    c.add("logs client", f["client"])
    c.add("logs engine", f["engine"])
    c.add("logs rss start", rss0)
    c.add("logs rss end", rss1)
    loads.append(f"{c.name} logs: {f['load0']:.2f}→{f['load1']:.2f}")
    print(
        f"  {c.name} logs ({args.loggers}×{args.rate:g}/s, {args.window:g} s): client "
        f"{f['client']:.2f} %, engine {f['engine']:.2f} %, RSS {rss0:.1f} → {rss1:.1f} MB, "
        f"load {f['load0']:.2f}→{f['load1']:.2f}"
    )


# --- the report -------------------------------------------------------------------------------


def spread(values: list[float] | None, scale: float = 1.0, digits: int = 2) -> str:
    """`median (min-max)` of a row, or a dash when it has no sample."""
    if not values:
        return "–"
    v = sorted(x * scale for x in values)
    med = statistics.median(v)
    return f"{med:.{digits}f} ({v[0]:.{digits}f}–{v[-1]:.{digits}f})"


ROWS: list[tuple[str, list[tuple[str, str]], float, int]] = [
    # (figure, [(paitui row, peer row)], scale, digits)
    ("launch → first frame (ms)", [("first frame", "first frame")], 1000, 0),
    ("launch → apps listed, Desktop (ms)", [("listed desktop", "listed")], 1000, 0),
    ("launch → apps listed, Running (ms)", [("listed running", "listed")], 1000, 0),
    ("idle CPU client, Desktop (%)", [("idle client desktop", "idle client containers")], 1, 2),
    ("idle CPU client, Running (%)", [("idle client running", "idle client containers")], 1, 2),
    ("idle CPU engine, Desktop (%)", [("idle engine desktop", "idle engine containers")], 1, 2),
    ("idle CPU engine, Running (%)", [("idle engine running", "idle engine containers")], 1, 2),
    ("idle CPU engine without a client (%)", [("idle engine alone", "idle engine alone")], 1, 2),
    ("logs: client CPU (%)", [("logs client", "logs client")], 1, 2),
    ("logs: engine CPU (%)", [("logs engine", "logs engine")], 1, 2),
    ("logs: engine CPU without a client (%)", [("logs engine alone", "logs engine alone")], 1, 2),
    ("logs: RSS at start (MB)", [("logs rss start", "logs rss start")], 1, 1),
    ("logs: RSS at end (MB)", [("logs rss end", "logs rss end")], 1, 1),
    ("RSS idle, Running (MB)", [("rss running", "rss containers")], 1, 1),
]


def table(paitui: Client, peer: Client | None) -> str:
    head = "| figure (median (min–max)) | " + ("lazydocker | " if peer else "") + "paitui |"
    lines = [head, "|---|" + ("---|" if peer else "") + "---|"]
    for label, pairs, scale, digits in ROWS:
        ours, theirs = pairs[0]
        cells = [spread(paitui.results.get(ours), scale, digits)]
        if peer:
            cells.insert(0, spread(peer.results.get(theirs), scale, digits))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------------


@contextlib.contextmanager
def engines(args: argparse.Namespace) -> Iterator[tuple[PrivateEngine, PrivateEngine]]:
    with PrivateEngine() as idle_engine, PrivateEngine() as log_engine:
        yield idle_engine, log_engine


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--peer", help="a lazydocker binary to measure beside paitui")
    parser.add_argument(
        "--peer-compose",
        action="store_true",
        help="let the peer run its real `docker-compose config` check at start",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (3)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per CPU window (60)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before a window (10)")
    parser.add_argument("--apps", type=int, default=50, help="ready stand-ins for idle (50)")
    parser.add_argument("--loggers", type=int, default=10, help="logging stand-ins (10)")
    parser.add_argument("--rate", type=float, default=20.0, help="log lines/s per logger (20)")
    parser.add_argument(
        "--min-uptime",
        type=float,
        default=70.0,
        help="seconds the stand-ins run before the first window (70: paitui's uptime column "
        "shows seconds only in an app's first minute)",
    )
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    parser.add_argument(
        "--only",
        type=lambda v: set(v.split(",")),
        default={"start", "idle", "logs"},
        help="parts to measure, comma-separated: start,idle,logs (all; start-up always runs)",
    )
    args = parser.parse_args()
    if not args.only <= {"start", "idle", "logs"}:
        parser.error(f"--only {','.join(sorted(args.only))}: choose from start, idle, logs")
    if args.peer and not os.access(args.peer, os.X_OK):
        parser.error(f"--peer {args.peer}: not an executable file; give the lazydocker binary")
    if args.rounds < 1 or args.window <= 0:
        parser.error("--rounds must be at least 1 and --window positive")
    raise_on_sigterm()
    print_machine()
    loads: list[str] = []
    with (
        engines(args) as (idle_engine, log_engine),
        StandIns(args.apps, prefix="bpeer", docker_host=idle_engine.host) as quiet,
        StandIns(
            args.loggers, log_lines_per_s=args.rate, prefix="blogs", docker_host=log_engine.host
        ) as loggers,
        isolated_dirs() as dirs,
        tempfile.TemporaryDirectory(prefix="paitui-bench-peer-") as home,
        TmuxPane(120, 40) as pane,
    ):
        up_since = time.monotonic()
        quiet.wait_serving()
        loggers.wait_serving()
        paitui = make_paitui(dirs)
        peer = make_peer(args.peer, home, args.peer_compose) if args.peer else None
        clients = [paitui, *([peer] if peer else [])]
        # Warm-up launches (page cache, .pyc), not counted, while the stand-ins age.
        for c in clients:
            Measure(pane, c, idle_engine.host, quiet).launch("list")
            Measure(pane, c, idle_engine.host, quiet).quit()
        base_s = max(5.0, min(args.window, args.min_uptime / 2))
        for label, engine in (("idle", idle_engine), ("logs", log_engine)):
            if label in args.only:
                base = measure_cpu(engine.pids, base_s)
                total = sum(base.percent.values())
                print(f"{label} engine without a client ({base.seconds:.0f} s): {total:.2f} %")
                paitui.add(f"{label} engine alone", total)
        # Younger stand-ins tick their uptime cell every second, in the idle and the logs windows.
        while args.only & {"idle", "logs"} and time.monotonic() - up_since < args.min_uptime:
            time.sleep(0.5)
        for r in range(args.rounds):
            order = clients if r % 2 == 0 else clients[::-1]
            print(f"round {r + 1}/{args.rounds}: {' then '.join(c.name for c in order)}")
            for c in order:
                startup_and_idle(
                    Measure(pane, c, idle_engine.host, quiet), idle_engine, args, loads
                )
                if "logs" in args.only:
                    logs(Measure(pane, c, log_engine.host, loggers), log_engine, args, loads)
    print()
    print(
        f"{args.apps} ready stand-ins (idle), {args.loggers} logging {args.rate:g} lines/s; "
        f"{args.rounds} rounds, {args.window:g} s windows, {args.settle:g} s settle"
    )
    print(table(paitui, peer))
    print("\nload average (1 min) at the start → end of each window:")
    for line in loads:
        print(f"  {line}")
    if args.json:
        out: dict[str, Any] = {c.name: c.results for c in clients}
        out["loads"] = loads
        out["args"] = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
