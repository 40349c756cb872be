"""Where paitui's time and memory go, on the peer benchmark's set-up (py-spy and tracemalloc).

    python bench/profile_paitui.py [--apps 50] [--loggers 10] [--rate 20] [--window 30] [--out DIR]
                            [--only start,idle,logs,memory]

Private engines and stand-ins as in ``bench/peer.py``; paitui in a 120x40 tmux pane.

* start: ``py-spy record`` from launch until the pane shows the first frame, then (a second
  launch) until the apps are listed on the Desktop, then (a third, key 5 at the first frame) on
  the Running screen; py-spy is interrupted the moment the text shows, so each profile covers
  exactly launch → that point;
* idle: ``py-spy record --pid`` for ``--window`` s on the Running screen and on the Desktop;
* logs: the same on the loggers' engine, Running screen, first app selected;
* memory: paitui started under tracemalloc; on SIGUSR1 it writes its top allocations (by line
  and by file) and the count of loaded modules; RSS at the first frame and once idle.

py-spy samples only threads that are running (not idle ones), so a profile is CPU, not wall
time. Each profile is summarised (samples by own line, by paitui function including callees, by
package) into ``--out`` (the raw collapsed stacks stay beside it).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REPO,
    PrivateEngine,
    StandIns,
    TmuxPane,
    first_frame,
    isolated_dirs,
    paitui_argv,
    print_machine,
    raise_on_sigterm,
    rss_bytes,
)
from peer import paitui_desktop_listed, paitui_running_listed

PY_SPY = str(Path(sys.executable).with_name("py-spy"))
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
#: Package buckets for the summary, by a path fragment (first match wins).
BUCKETS = (
    ("<frozen importlib", "imports"),
    ("/paitui/", "paitui"),
    ("/textual/", "textual"),
    ("/rich/", "rich"),
    ("/pydantic", "pydantic"),
    ("/docker/", "docker SDK"),
    ("/requests/", "requests/urllib3"),
    ("/urllib3/", "requests/urllib3"),
    ("/httpx/", "httpx/httpcore"),
    ("/httpcore/", "httpx/httpcore"),
    ("/yaml/", "yaml"),
    ("/pyudev/", "pyudev"),
    ("/asyncio/", "asyncio"),
)

#: Leaf frames of a thread that waits (py-spy's idle detection misses these with --nonblocking).
WAITING = (
    "Condition.wait (threading.py",
    "Selector.select (selectors.py",
    "_worker (concurrent/futures/thread.py",
    "SocketIO.readinto (socket.py",
    "select (",
    "sleep (",
    "Event.wait (threading.py",
    "Thread.join (threading.py",
    "_wait_for_tstate_lock (threading.py",
)

TRACE_CHILD = """
import signal, sys, tracemalloc
tracemalloc.start(1)
def dump(*_):
    snap = tracemalloc.take_snapshot()
    cur, peak = tracemalloc.get_traced_memory()
    with open({out!r} + ".part", "w") as f:
        f.write(f"traced {{cur/2**20:.1f}} MB (peak {{peak/2**20:.1f}}), "
                f"{{len(sys.modules)}} modules\\n")
        for title, key in (("by file", "filename"), ("by line", "lineno")):
            f.write(f"\\n## {{title}}\\n")
            for s in snap.statistics(key)[:40]:
                f.write(f"{{s.size/2**20:7.2f}} MB {{s.count:8d}}  {{s.traceback[0]}}\\n")
        import collections, os.path
        count, size = collections.Counter(), collections.Counter()
        for name, mod in list(sys.modules.items()):
            top = name.partition(".")[0]
            count[top] += 1
            cached = getattr(getattr(mod, "__spec__", None), "cached", None)
            size[top] += os.path.getsize(cached) if cached and os.path.exists(cached) else 0
        f.write("\\n## modules by package (count, bytecode on disk)\\n")
        for top, n in size.most_common(40):
            f.write(f"{{n/2**20:7.2f}} MB {{count[top]:5d}}  {{top}}\\n")
    import os
    os.replace({out!r} + ".part", {out!r})
signal.signal(signal.SIGUSR1, dump)
from paitui.cli.main import main
raise SystemExit(main({args!r}))
"""

#: The child for ``timeline``: marks (ms since the parent's launch, thread) at the start and end
#: of the steps between launch and the apps listed. CLOCK_MONOTONIC is the same in both processes.
TIMELINE_CHILD = """
import sys, threading, time, functools
T0 = float({t0!r}); OUT = open({out!r}, "w", buffering=1)
def mark(what):
    OUT.write(f"{{(time.monotonic() - T0) * 1000:8.1f}} ms  {{threading.current_thread().name:<22}}"
              f" {{what}}\\n")
mark("interpreter up")
def wrap(owner, name, label=None, once=False, result=None):
    fn = getattr(owner, name)
    done = []
    @functools.wraps(fn)
    def inner(*a, **k):
        if once and done:
            return fn(*a, **k)
        mark(f"{{label or name}} start")
        out = fn(*a, **k)
        mark(f"{{label or name}} end" + (f" ({{result(out)}})" if result else ""))
        done.append(1)
        return out
    setattr(owner, name, inner)
import paitui.cli.main as cli_main
mark("import paitui.cli.main done")
import paitui.services.registry as reg
wrap(reg.Services, "load_catalog", "Services.load_catalog")
wrap(reg.Services, "detect_hardware", "Services.detect_hardware")
fleet_prop = reg.Services.__dict__["fleet"]
_orig_fleet = fleet_prop.func
def _fleet(self):
    mark("Services.fleet build start"); f = _orig_fleet(self); mark("Services.fleet build end")
    return f
fleet_prop.func = _fleet
import paitui.services.engine.events as ev
wrap(ev, "list_managed", "engine list + inspects", result=len)
_emit = ev.EventPump._emit
def emit(self, update):
    if type(update).__name__ == "ManagedSnapshot":
        mark("ManagedSnapshot emitted")
    return _emit(self, update)
ev.EventPump._emit = emit
import paitui.services.fleet.tracker as tr
wrap(tr.Fleet, "_apply_listing", "Fleet._apply_listing")
import paitui.ui.app as uiapp
mark("import paitui.ui.app done")
wrap(uiapp.PaituiApp, "_set_catalog", "app._set_catalog (catalog on the loop)", once=True)
wrap(uiapp.PaituiApp, "_publish_statuses", "app._publish_statuses", once=True)
wrap(uiapp.PaituiApp, "set_hardware_report", "app.set_hardware_report", once=True)
from textual.screen import Screen
_refresh = Screen._compositor_refresh
frames = [0]
def refresh(self):
    frames[0] += 1
    if frames[0] <= 3:
        mark(f"compositor refresh #{{frames[0]}} start ({{type(self).__name__}})")
    out = _refresh(self)
    if frames[0] <= 3:
        mark(f"compositor refresh #{{frames[0]}} end")
    return out
Screen._compositor_refresh = refresh
def screens():
    import paitui.ui.screens.home as home, paitui.ui.screens.running as running
    wrap(home.HomeScreen, "_update_states", "Desktop _update_states", once=True)
    wrap(running.RunningScreen, "_connect_fleet", "Running _connect_fleet", once=True)
    wrap(running.RunningScreen, "_upsert", "Running first _upsert", once=True)
screens()
raise SystemExit(cli_main.main({args!r}))
"""


def bucket(file: str) -> str:
    path = "/" + file  # py-spy shortens paths to the package (`textual/app.py`)
    for fragment, name in BUCKETS:
        if fragment in path:
            return name
    return "other"


def summarise(raw: Path, title: str, top: int = 25) -> str:
    """Samples by own line, by paitui function (inclusive), by package (own), from py-spy raw."""
    own_line: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = busy = waiting = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not count_s.isdigit():
            continue
        count = int(count_s)
        frames = stack.split(";")
        total += count
        parsed = [m for m in (_FRAME.match(f) for f in frames) if m]
        if not parsed:
            continue
        leaf = parsed[-1]
        if any(
            f"{leaf['func']} ({leaf['file']}".endswith(w)
            or f"{leaf['func']} ({leaf['file']}".startswith(w)
            for w in WAITING
        ):
            waiting += count
            continue
        busy += count
        if frames and not _FRAME.match(frames[0]):
            threads[frames[0]] += count
        own_line[f"{leaf['func']} ({leaf['file']}:{leaf['line']})"] += count
        packages[bucket(leaf["file"])] += count
        seen: set[str] = set()
        for m in parsed:
            path = "/" + m["file"]
            if "/paitui/" in path:
                key = f"{m['func']} ({path.split('/paitui/', 1)[1]}:{m['line']})"
                if key not in seen:
                    seen.add(key)
                    ours[key] += count
        # Importing counts as "imports" wherever it is below.
        if any("importlib._bootstrap" in m["file"] for m in parsed):
            packages["(under an import)"] += count
    if not total:
        return f"# {title}\nno samples\n"

    def pct(n: int) -> str:
        return f"{n:6d} {n / max(1, busy) * 100:5.1f} %"

    out = [f"# {title}: {total} samples, {waiting} of them waiting (left out), {busy} busy"]
    out.append("\n## threads")
    out += [f"{pct(n)}  {t}" for t, n in threads.most_common(10)]
    out.append("\n## own time by package (leaf frame)")
    out += [f"{pct(n)}  {b}" for b, n in packages.most_common()]
    out.append("\n## paitui frames, including what they call (paitui/FILE:LINE of the call)")
    out += [f"{pct(n)}  {k}" for k, n in ours.most_common(top)]
    out.append("\n## own time by line")
    out += [f"{pct(n)}  {k}" for k, n in own_line.most_common(top)]
    return "\n".join(out) + "\n"


class Profiler:
    def __init__(self, pane: TmuxPane, env: dict[str, str], out: Path, rate: int) -> None:
        self.pane, self.env, self.out, self.rate = pane, env, out, rate

    def start(self, name: str, catalog: Path, until: str) -> float | None:
        """Record launch → ``until`` (first | desktop | running); returns that time."""
        raw = self.out / f"{name}.raw"
        argv = [PY_SPY, "record", "-r", str(self.rate), "--format", "raw", "-t", "--nonblocking"]
        argv += ["-o", str(raw), "--", *paitui_argv([catalog])]
        check = {"first": first_frame, "desktop": paitui_desktop_listed}.get(
            until, paitui_running_listed
        )
        t0 = self.pane.respawn(argv, self.env)
        if until == "running":
            t1, _ = self.pane.wait_for(first_frame, timeout=30)
            self.pane.send_keys("5")
        t1, text = self.pane.wait_for(check, timeout=30)
        spy = self.pane.pid()
        children = Path(f"/proc/{spy}/task/{spy}/children").read_text().split()
        os.kill(spy, signal.SIGINT)  # py-spy writes its file
        self.pane.wait_exit(15)
        for child in children:  # paitui itself, if py-spy left it running
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(child), signal.SIGTERM)
        if t1 is None:
            print(f"warning: {name}: never reached {until}:\n{text}")
            return None
        elapsed = t1 - t0
        (self.out / f"{name}.txt").write_text(
            summarise(raw, f"{name}: launch → {until} ({elapsed * 1000:.0f} ms under py-spy)")
        )
        return elapsed

    def attach(self, name: str, pid: int, seconds: float) -> None:
        raw = self.out / f"{name}.raw"
        argv = [PY_SPY, "record", "-r", str(self.rate), "--format", "raw", "-t", "--nonblocking"]
        argv += ["-o", str(raw), "-d", str(int(seconds)), "--pid", str(pid)]
        import subprocess

        subprocess.run(argv, capture_output=True, check=False, timeout=seconds + 30)
        (self.out / f"{name}.txt").write_text(summarise(raw, f"{name}: {seconds:g} s attached"))


def launch(pane: TmuxPane, env: dict[str, str], catalog: Path, screen: str) -> int:
    pane.respawn(paitui_argv([catalog]), env)
    t, text = pane.wait_for(first_frame, timeout=30)
    if t is None:
        raise SystemExit(f"paitui did not start:\n{text}")
    if screen == "running":
        pane.send_keys("5")
    pane.wait_for(paitui_running_listed if screen == "running" else paitui_desktop_listed, 30)
    return pane.pid()


def timeline(pane: TmuxPane, env: dict[str, str], catalog: Path, args: argparse.Namespace) -> None:
    """Launches with marks at each start-up step, for the Desktop and the Running screen."""
    for screen in ("desktop", "running"):
        for run in range(args.timeline_runs):
            out = args.out / f"timeline-{screen}-{run + 1}.txt"
            t0 = time.monotonic()
            code = TIMELINE_CHILD.format(t0=t0, out=str(out), args=["--catalog", str(catalog)])
            pane.respawn([sys.executable, "-c", code], env)
            t1, _ = pane.wait_for(first_frame, timeout=30)
            if screen == "running":
                pane.send_keys("5")
            check = paitui_running_listed if screen == "running" else paitui_desktop_listed
            t2, _ = pane.wait_for(check, timeout=30)
            quit_pane(pane)
            pane_marks = [
                f"{(t - t0) * 1000:8.1f} ms  {'(pane)':<22} {what}"
                for t, what in ((t1, "pane shows the first frame"), (t2, f"pane: {screen} listed"))
                if t is not None
            ]
            lines = out.read_text().splitlines() + pane_marks
            lines.sort(key=lambda line: float(line.split()[0]))
            out.write_text("\n".join(lines) + "\n")
            print(f"timeline {screen} {run + 1}: " + "; ".join(m.strip() for m in pane_marks))


def quit_pane(pane: TmuxPane) -> None:
    pane.send_keys("q")
    if not pane.wait_exit(5):
        pane.respawn(["true"])
        pane.wait_exit(5)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--loggers", type=int, default=10)
    parser.add_argument("--rate", type=float, default=20.0, help="log lines/s per logger (20)")
    parser.add_argument("--window", type=float, default=30.0, help="seconds attached (30)")
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--sample-rate", type=int, default=250, help="py-spy samples/s (250)")
    parser.add_argument("--min-uptime", type=float, default=70.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/paitui-profile"))
    parser.add_argument("--only", default="timeline,start,idle,logs,memory")
    parser.add_argument("--timeline-runs", type=int, default=3)
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if not os.access(PY_SPY, os.X_OK):
        parser.error(f"{PY_SPY} missing: pip install py-spy into this interpreter's venv")
    args.out.mkdir(parents=True, exist_ok=True)
    raise_on_sigterm()
    print_machine()
    with (
        PrivateEngine() as idle_engine,
        PrivateEngine() as log_engine,
        StandIns(args.apps, prefix="bprof", docker_host=idle_engine.host) as quiet,
        StandIns(
            args.loggers if "logs" in parts else 0,
            log_lines_per_s=args.rate,
            prefix="bplog",
            docker_host=log_engine.host,
        ) as loggers,
        isolated_dirs() as dirs,
        TmuxPane(120, 40) as pane,
    ):
        up = time.monotonic()
        quiet.wait_serving()
        loggers.wait_serving()
        env = {**dirs, "PYTHONPATH": str(REPO), "DOCKER_HOST": idle_engine.host}
        prof = Profiler(pane, env, args.out, args.sample_rate)
        if "timeline" in parts:
            timeline(pane, env, quiet.catalog, args)
        if "start" in parts:
            quit_pane(pane)
            launch(pane, env, quiet.catalog, "desktop")  # warm caches, not profiled
            quit_pane(pane)
            for until in ("first", "desktop", "running"):
                elapsed = prof.start(f"start-{until}", quiet.catalog, until)
                print(f"start → {until}: {elapsed and elapsed * 1000:.0f} ms (under py-spy)")
        while time.monotonic() - up < args.min_uptime:
            time.sleep(0.5)
        if "idle" in parts:
            for screen in ("running", "desktop"):
                pid = launch(pane, env, quiet.catalog, screen)
                time.sleep(args.settle)  # a fixed pause by design: reach the steady state
                prof.attach(f"idle-{screen}", pid, args.window)
                print(f"idle {screen}: profiled {args.window:g} s")
                quit_pane(pane)
        if "logs" in parts:
            log_env = {**env, "DOCKER_HOST": log_engine.host}
            pid = launch(pane, log_env, loggers.catalog, "running")
            time.sleep(min(args.settle, 5.0))
            prof.attach("logs-running", pid, args.window)
            print(f"logs: profiled {args.window:g} s")
            quit_pane(pane)
        if "memory" in parts:
            report = args.out / "memory.txt"
            code = TRACE_CHILD.format(out=str(report), args=["--catalog", str(quiet.catalog)])
            pane.respawn([sys.executable, "-c", code], env)
            pane.wait_for(first_frame, timeout=30)
            pid = pane.pid()
            rss_first = (rss_bytes(pid) or 0) / 2**20
            pane.send_keys("5")
            pane.wait_for(paitui_running_listed, timeout=30)
            time.sleep(args.settle)
            os.kill(pid, signal.SIGUSR1)
            deadline = time.monotonic() + 20
            while not report.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            rss_idle = (rss_bytes(pid) or 0) / 2**20
            with contextlib.suppress(OSError):
                text = report.read_text()
                report.write_text(
                    f"RSS (under tracemalloc) at the first frame {rss_first:.1f} MB, "
                    f"idle on Running {rss_idle:.1f} MB\n" + text
                )
            print(f"memory: RSS first frame {rss_first:.1f} MB, idle {rss_idle:.1f} MB")
            quit_pane(pane)
    print(f"profiles in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
