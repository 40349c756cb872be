"""Idle: paitui's CPU, and the engine's at the same time, with 0 and 50 ready managed apps.

    python bench/idle.py [--containers 0,50] [--duration 60] [--settle 10] [--screen running]

The stand-ins run on a private dockerd of the benchmark's own (own socket, bridge and containerd;
``--shared-engine`` uses the machine's engine instead), because paitui follows every managed
container of its engine and other people's tests on a shared engine start and stop such containers
all the time. For each count: that many busybox stand-ins (httpd on 8080, labelled as paitui's own,
all answering GET / before paitui starts) and a catalog of them; ``python -m paitui --catalog FILE``
in a 120x40 tmux pane (fresh config and state dirs) showing ``--screen`` (running = key 5, or home);
after ``--settle`` seconds (the ready notifications expire after 6 s) utime+stime of paitui (all
threads) and of dockerd, containerd, the shims and docker-proxy are read from /proc/PID/stat at the
start and end of a ``--duration`` window. Nothing polls the pane during the window, read in
``--slice`` second slices: paitui follows every managed container on the engine, so slices in which
other people's managed containers had events are reported apart from the quiet ones. With
``--baseline`` (default) the engine is first measured for the same window with the stand-ins running
and no paitui, so its own share can be told from the machine's background (other containers, other
users).

Target: paitui under 0.5 % of one core. Peer (lazydocker, 50 containers): 3.1-3.8 % itself,
12.3-14.7 % in the engine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CpuWindow,
    ForeignEvents,
    StandIns,
    TmuxPane,
    engine_for,
    first_frame,
    isolated_dirs,
    measure_cpu,
    paitui_argv,
    print_machine,
    raise_on_sigterm,
    rss_bytes,
    verdict,
)

TARGET_PERCENT = 0.5
#: ``--without`` switches parts off in the measured process, to tell what the idle CPU is for.
ABLATIONS = {
    "tick": "import paitui.ui.screens.running as r\nr.RunningScreen._tick = lambda self: None",
    "stats": "import paitui.services.fleet.tracker as f\n"
    "f.Fleet.watch_stats = lambda self, *a, **k: None",
    "logs": "import paitui.ui.screens.running as r\n"
    "r.RunningScreen._follow_logs = lambda self, *a, **k: None",
    # The stats still stream and draw the sparklines; only the table's CPU/Memory cells stay.
    "stat-cells": "import paitui.ui.screens.running as r\n"
    "_set = r.RunningScreen._set_cells\n"
    "def _cells(self, key, cells):\n"
    "    keep = {k: v for k, v in cells.items() if k not in ('cpu', 'mem')}\n"
    "    _set(self, key, keep)\n"
    "r.RunningScreen._set_cells = _cells",
    # The stat labels (one line each) updated without a layout pass of the whole screen.
    "label-layout": "import paitui.ui.screens.running as r\n"
    "_upd = r.Static.update\n"
    "def _update(self, content='', *, layout=True):\n"
    "    if self.id in ('cpu-label', 'mem-label'):\n"
    "        layout = False\n"
    "    _upd(self, content, layout=layout)\n"
    "r.Static.update = _update",
}
SCREEN_KEYS = {"running": "5", "home": "1"}


def fmt(percent: dict[str, float], processes: dict[str, int]) -> str:
    return ", ".join(
        f"{name} {pct:.2f} % ({processes.get(name, 0)})"
        for name, pct in percent.items()
        if name != "paitui"
    )


class Sliced:
    """CPU over a window cut in slices; slices with other people's managed-container events
    are kept apart, because paitui rightly redraws for those."""

    def __init__(self) -> None:
        self.all: dict[str, float] = {}  # CPU seconds per group
        self.quiet: dict[str, float] = {}
        self.seconds = 0.0
        self.quiet_seconds = 0.0
        self.slices = 0
        self.quiet_slices = 0
        self.events = 0
        self.processes: dict[str, int] = {}

    def add(self, window: CpuWindow, events: int) -> None:
        self.slices += 1
        self.seconds += window.seconds
        self.events += events
        self.processes = window.processes
        for name, pct in window.percent.items():
            used = pct * window.seconds / 100
            self.all[name] = self.all.get(name, 0.0) + used
            if events == 0:
                self.quiet[name] = self.quiet.get(name, 0.0) + used
        if events == 0:
            self.quiet_slices += 1
            self.quiet_seconds += window.seconds

    def percent(self, quiet: bool = False) -> dict[str, float]:
        seconds = self.quiet_seconds if quiet else self.seconds
        used = self.quiet if quiet else self.all
        return {name: v / seconds * 100 for name, v in used.items()} if seconds else {}


def sliced(
    groups: Callable[[], dict[str, list[int]]],
    duration: float,
    slice_s: float,
    foreign: ForeignEvents,
) -> Sliced:
    result = Sliced()
    foreign.reset()
    end = time.monotonic() + duration
    while time.monotonic() < end - 0.5:
        window = measure_cpu(groups, min(slice_s, end - time.monotonic()))
        result.add(window, foreign.reset())
    return result


def engine_total(percent: dict[str, float]) -> float:
    return sum(v for k, v in percent.items() if k != "paitui")


def one(count: int, args: argparse.Namespace) -> dict[str, float]:
    result: dict[str, float] = {}
    with (
        engine_for(not args.shared_engine) as (host, engine_pids),
        StandIns(count, prefix="bidle", docker_host=host) as standins,
        isolated_dirs() as dirs,
        ForeignEvents(standins.run_id, host) as foreign,
    ):
        if host:
            dirs = {**dirs, "DOCKER_HOST": host}
        up_since = time.monotonic()
        standins.wait_serving()
        if args.baseline:
            base = sliced(engine_pids, args.duration, args.slice, foreign)
            for label, quiet in (("all", False), ("quiet", True)):
                pct = base.percent(quiet)
                if pct:
                    print(
                        f"[{count} apps] engine without paitui ({label} slices): "
                        f"{engine_total(pct):.2f} % ({fmt(pct, base.processes)})"
                    )
            result["engine_baseline"] = engine_total(base.percent(True) or base.percent())
        with TmuxPane(120, 40) as pane:
            argv = paitui_argv([standins.catalog])
            if args.without:
                patches = "\n".join(ABLATIONS[w] for w in args.without)
                argv = [
                    sys.executable,
                    "-c",
                    patches + "\nfrom paitui.cli.main import main\n"
                    f"raise SystemExit(main({argv[3:]!r}))",
                ]
            if args.probe_interval:
                dirs = {**dirs, "PAITUI_PROBE_READY_INTERVAL": str(args.probe_interval)}
            pane.respawn(argv, dirs)
            t1, text = pane.wait_for(first_frame, timeout=30)
            if t1 is None:
                raise SystemExit(f"paitui did not start:\n{text}")
            pid = pane.pid()
            pane.send_keys(SCREEN_KEYS[args.screen])
            if count:
                mark = "Bench stand-in"
                shown, _ = pane.wait_for(lambda s: mark in s, timeout=30)
                if shown is None:
                    print("warning: no stand-in shown within 30 s", file=sys.stderr)
            time.sleep(args.settle)
            # Idle apps have been up a while: the uptime column shows seconds only at first.
            while time.monotonic() - up_since < args.min_uptime:
                time.sleep(0.5)
            snapshot = pane.capture()
            busy_t0 = Path("/proc/stat").read_text()

            def groups() -> dict[str, list[int]]:
                return {"paitui": [pid], **engine_pids()}

            run = sliced(groups, args.duration, args.slice, foreign)
            busy_t1 = Path("/proc/stat").read_text()
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            threads = len(os.listdir(f"/proc/{pid}/task"))
            rss = (rss_bytes(pid) or 0) / 2**20
            pane.send_keys("q")
        busy = _busy(busy_t0, busy_t1)
        ready = snapshot.count("● ready")
        head = f"[{count} apps, {args.screen} screen]"
        if args.without or args.probe_interval:
            head = (
                head[:-1]
                + f", without {'+'.join(args.without) or '-'}"
                + (
                    f", ready probes every {args.probe_interval:g} s]"
                    if args.probe_interval
                    else "]"
                )
            )
        print(
            f"{head} paitui RSS {rss:.1f} MiB, {threads} threads, {fds} open files; "
            f"rows shown ready: {ready}; whole machine busy {busy:.0f} % of one core; "
            f"other managed-container events: {run.events} in "
            f"{run.slices - run.quiet_slices} of {run.slices} slices of {args.slice:g} s"
        )
        for label, quiet in (("all", False), ("quiet", True)):
            pct = run.percent(quiet)
            if not pct:
                print(f"{head} no quiet slice: every slice saw other containers' events")
                continue
            seconds = run.quiet_seconds if quiet else run.seconds
            own = pct.get("paitui", 0.0)
            print(
                f"{head} {label} slices ({seconds:.0f} s): paitui {own:.2f} % of one core "
                f"[{verdict(own, TARGET_PERCENT)} < {TARGET_PERCENT} %]; engine "
                f"{engine_total(pct):.2f} % ({fmt(pct, run.processes)})"
            )
            result[f"paitui_{label}"] = own
            result[f"engine_{label}"] = engine_total(pct)
        result["rss"] = rss
    return result


def _busy(a: str, b: str) -> float:
    def parse(text: str) -> tuple[int, int]:
        fields = [int(x) for x in text.split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    (b0, t0), (b1, t1) = parse(a), parse(b)
    return (b1 - b0) / max(1, t1 - t0) * 100 * (os.cpu_count() or 1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--containers", default="0,50", help="comma-separated counts of ready stand-ins (0,50)"
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of the measuring window (60)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds after the screen shows before measuring (10)",
    )
    parser.add_argument(
        "--min-uptime",
        type=float,
        default=70.0,
        help="seconds the stand-ins have run before the window starts (70)",
    )
    parser.add_argument(
        "--screen",
        choices=sorted(SCREEN_KEYS),
        default="running",
        help="the screen shown while idle (running)",
    )
    parser.add_argument(
        "--slice",
        type=float,
        default=5.0,
        help="seconds per slice; slices with other managed containers' events "
        "are reported apart (5)",
    )
    parser.add_argument(
        "--without",
        default="",
        help="comma-separated parts to switch off in paitui, to attribute the "
        f"cost: {', '.join(ABLATIONS)}",
    )
    parser.add_argument(
        "--probe-interval",
        type=float,
        default=0.0,
        help="PAITUI_PROBE_READY_INTERVAL for the run (default: paitui's, 30 s)",
    )
    parser.add_argument(
        "--shared-engine",
        action="store_true",
        help="use the machine's engine instead of a private dockerd",
    )
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip measuring the engine without paitui first",
    )
    args = parser.parse_args()
    args.without = [w for w in args.without.split(",") if w]
    unknown = set(args.without) - set(ABLATIONS)
    if unknown:
        parser.error(f"--without: unknown {', '.join(sorted(unknown))}")
    raise_on_sigterm()
    print_machine()
    for count in (int(c) for c in args.containers.split(",") if c.strip()):
        one(count, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
