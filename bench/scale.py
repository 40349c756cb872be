"""Scale: the Running screen with 500 managed apps: listing, scrolling, frame time as rows update.

    python bench/scale.py [--rows 500] [--rounds 5]                 # headless, fed statuses
    python bench/scale.py --engine [--rows 500] [--running]         # real containers, in tmux

Headless: the real ``RunningScreen`` in ``App.run_test`` (120x40), fed ``--rows`` statuses
through a stand-in fleet (no engine). Frame time is the time of each compositor refresh
(``Screen._compositor_refresh``: layout, render of the visible region, write to the driver);
"applied" is from posting the changes until the table holds them and the screen is idle.
Measured: adding all rows, every row changing state at once, the screen's 1 s uptime tick,
and scrolling (page down through the whole table, then end/home).

Engine (``--engine``): ``--rows`` stand-in containers created (``docker create``; ``--running``
starts them too) with the paitui labels, ``paitui --catalog`` started in a 120x40 tmux pane, key
``5`` pressed; timed until the Running table shows the last app, then page-down/end through it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    StandIns,
    TmuxPane,
    engine_for,
    first_frame,
    isolated_dirs,
    paitui_argv,
    print_machine,
    raise_on_sigterm,
    summary,
)

from paitui.domain.engine.containers import PublishedPort
from paitui.domain.fleet.status import AppState, AppStatus, ProbeOutcome, ProbeResult


class FeedFleet:
    """What ``RunningScreen`` reads from the fleet, fed by the benchmark instead of an engine."""

    def __init__(self, settings: Any) -> None:
        self.statuses: dict[str, AppStatus] = {}
        self.connection = None
        self.settings = settings
        self.catalog = None
        self._listeners: list[Callable[[AppStatus], object]] = []

    def subscribe(self, listener: Callable[[AppStatus], object]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: None

    async def start(self) -> None:
        return None

    def app(self, app_id: str) -> None:
        return None

    def publish(self, status: AppStatus) -> None:
        self.statuses[status.app_id] = status
        for listener in self._listeners:
            listener(status)

    def watch_stats(self, container_id: str, on_sample: Any) -> None:
        return None

    def unwatch_stats(self, container_id: str | None = None) -> None:
        return None

    async def _no_logs(self) -> Any:
        if False:  # an empty async generator
            yield ""

    def logs(self, container_id: str, follow: bool = True) -> Any:
        return self._no_logs()


def status(i: int, state: AppState, now: float) -> AppStatus:
    return AppStatus(
        app_id=f"app-{i:04d}",
        state=state,
        since=now,
        container_id=f"{i:064x}",
        name=f"paitui-app-{i:04d}",
        variant="cpu",
        image="127.0.0.1:5000/paitest/busybox:latest",
        started_at=now - 3600 - i,
        ports=(PublishedPort(8080, "tcp", "127.0.0.1", 20000 + i),),
        probe=ProbeResult(ProbeOutcome.READY, "200", 0.002, now, 200),
        ever_ready=True,
    )


async def headless(rows: int, rounds: int) -> None:
    from textual.app import App
    from textual.widgets import DataTable

    from paitui.settings import Settings
    from paitui.ui.screens.running import RunningScreen

    fleet = FeedFleet(Settings(models_dir=Path("/nonexistent"), apps_dir=Path("/nonexistent")))
    frames: list[float] = []

    class Host(App[None]):
        def __init__(self) -> None:
            super().__init__()
            self.services = SimpleNamespace(fleet=fleet)

        def on_mount(self) -> None:
            self.push_screen(RunningScreen(env={}))

    host = Host()
    async with host.run_test(size=(120, 40)) as pilot:
        screen = host.screen
        assert isinstance(screen, RunningScreen)
        original = screen._compositor_refresh

        def timed_refresh() -> None:
            t0 = time.perf_counter()
            original()
            frames.append(time.perf_counter() - t0)

        screen._compositor_refresh = timed_refresh  # type: ignore[method-assign]
        table = screen.query_one("#running-apps", DataTable)

        async def settle(check: Callable[[], bool]) -> float:
            t0 = time.perf_counter()
            while not check():
                await pilot.pause(0.001)
            await pilot.pause()
            return time.perf_counter() - t0

        now = time.time()
        frames.clear()
        t0 = time.perf_counter()
        for i in range(rows):
            fleet.publish(status(i, AppState.READY, now))
        elapsed = (time.perf_counter() - t0) + await settle(lambda: table.row_count == rows)
        add_frames = list(frames)
        print(f"add {rows} rows: applied in {elapsed * 1000:.0f} ms; frames {summary(add_frames)}")

        # Every row changes state at once, several rounds (ready <-> unhealthy).
        applied: list[float] = []
        frames.clear()
        for r in range(rounds):
            state = AppState.UNHEALTHY if r % 2 == 0 else AppState.READY
            t0 = time.perf_counter()
            for i in range(rows):
                fleet.publish(status(i, state, now))
            last = f"app-{rows - 1:04d}"

            def changed(last: str = last, state: AppState = state) -> bool:
                return screen.statuses[last].state == state

            applied.append((time.perf_counter() - t0) + await settle(changed))
        print(f"all {rows} rows change state: applied {summary(applied)}; frames {summary(frames)}")

        # The screen's own 1 s tick rewrites every row's uptime.
        ticks: list[float] = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            screen._tick()
            ticks.append(time.perf_counter() - t0)
        print(
            f"uptime tick over {rows} rows (runs every second): {summary(ticks)} "
            f"= {statistics.median(ticks) * 100:.1f} % of one core from the tick alone"
        )

        # Scrolling: page down to the end, then end/home.
        table.focus()
        await pilot.pause()
        keys: list[float] = []
        frames.clear()
        pages = 0
        # Pilot.press sleeps between steps, so its wall time says little: count the process's
        # CPU time per key (handling it, moving the cursor, rendering the new rows) instead.
        while table.cursor_row < rows - 1 and pages < rows:
            t0 = time.process_time()
            await pilot.press("pagedown")
            await pilot.pause()
            keys.append(time.process_time() - t0)
            pages += 1
        for key in ("home", "end", "home"):
            t0 = time.process_time()
            await pilot.press(key)
            await pilot.pause()
            keys.append(time.process_time() - t0)
        print("  CPU per key, ms:", " ".join(f"{k * 1000:.0f}" for k in keys))
        print(
            f"scroll ({pages} page-downs, home/end): CPU per key {summary(keys)}; "
            f"frames {summary(frames)}"
        )


def with_engine(rows: int, running: bool, timeout: float, private: bool) -> None:
    t0 = time.monotonic()
    with (
        engine_for(private) as (host, _pids),
        StandIns(rows, run=running, prefix="bscale", docker_host=host) as standins,
        isolated_dirs() as dirs,
    ):
        if host:
            dirs = {**dirs, "DOCKER_HOST": host}
        print(
            f"{'ran' if running else 'created'} {rows} stand-ins in {time.monotonic() - t0:.1f} s"
        )
        first = standins.app_ids[0]
        with TmuxPane(120, 40) as pane:
            start = pane.respawn(paitui_argv([standins.catalog]), dirs)
            t1, text = pane.wait_for(first_frame, timeout=30)
            if t1 is None:
                raise SystemExit(f"paitui did not start:\n{text}")
            pane.send_keys("5")
            t2, text = pane.wait_for(lambda s: first in s or "stand-in 000" in s, timeout=timeout)
            print(
                f"launch -> first frame {((t1 - start) * 1000):.0f} ms; "
                "launch -> first stand-in row on the Running screen (key 5 pressed at the "
                "first frame): "
                + (f"{(t2 - start) * 1000:.0f} ms" if t2 else f"not within {timeout} s")
            )
            # Wait for the listing to hold every stand-in: page down until the pane stops
            # changing (the end of the table), counting the stand-ins seen on the way.
            keys: list[float] = []
            seen: set[str] = set()
            stalled = 0
            for _ in range(rows // 5 + 20):
                before = pane.capture()
                seen.update(re.findall(r"Bench stand-in (\d{3})", before))

                def moved(text: str, before: str = before) -> bool:
                    return text != before

                k0 = time.monotonic()
                pane.send_keys("PageDown")
                t_key, _ = pane.wait_for(moved, timeout=2)
                if t_key is None:
                    stalled += 1
                    if stalled >= 2:
                        break
                    continue
                stalled = 0
                keys.append(t_key - k0)
            seen.update(re.findall(r"Bench stand-in (\d{3})", pane.capture()))
            print(
                f"page-down -> pane changed: {summary(keys)}; {len(keys)} pages to the end; "
                f"stand-ins seen on the way: {len(seen)} of {rows}"
            )
            pane.send_keys("q")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--rows", type=int, default=500, help="managed apps (500)")
    parser.add_argument("--rounds", type=int, default=5, help="update rounds (5)")
    parser.add_argument(
        "--engine", action="store_true", help="real stand-in containers and paitui in tmux"
    )
    parser.add_argument(
        "--running",
        action="store_true",
        help="with --engine: start the containers, not only create them",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="with --engine: seconds to wait for the listing (60)",
    )
    parser.add_argument(
        "--shared-engine",
        action="store_true",
        help="with --engine: the machine's engine instead of a private dockerd",
    )
    args = parser.parse_args()
    raise_on_sigterm()
    print_machine()
    if args.engine:
        with_engine(args.rows, args.running, args.timeout, not args.shared_engine)
    else:
        asyncio.run(headless(args.rows, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
