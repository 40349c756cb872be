"""Reaction: a managed container stopped outside paitui -> the Running screen in tmux shows it.

    python bench/reaction.py [--runs 20] [--how kill|stop] [--apps 1] [--interval 0.01]

``--apps`` busybox stand-ins (httpd on 8080, labelled as paitui's own, the health check answers)
and ``python -m paitui --catalog FILE`` in a 120x40 tmux pane on the Running screen (key 5).
Each run waits until the first stand-in's row says ``ready``, then ``docker kill`` (or
``docker stop``; the stand-in traps TERM, so a stop is quick) through the SDK, and polls
``tmux capture-pane`` every ``--interval`` seconds until that row shows the stop (``exited`` or
``crashed``). Timed from the moment the engine's kill/stop call returned, as the peer figure
was, from just before the call, and from the engine's own time of the ``die`` event (the call
returns only once the container is dead, after the event). On a private dockerd
(``--shared-engine``: the machine's). The container is then started again and the next run
waits for ``ready`` once more.

Target: under 150 ms (median of 20). Peer (lazydocker): 52-55 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ForeignEvents,
    StandIns,
    TmuxPane,
    engine_for,
    first_frame,
    isolated_dirs,
    paitui_argv,
    print_machine,
    raise_on_sigterm,
    summary,
    verdict,
)

TARGET_S = 0.150
STOPPED_WORDS = ("exited", "crashed")


def row_of(text: str, name: str) -> str:
    """The line of the pane holding the app's row in the table (empty when not shown)."""
    for line in text.splitlines():
        # The table row starts with the name; the detail pane and toasts put it elsewhere.
        if line.lstrip().startswith(name) and (
            "ready" in line
            or any(w in line for w in (*STOPPED_WORDS, "starting", "stopping", "unhealthy"))
        ):
            return line
    return ""


class DieTimes:
    """The engine's own time (``timeNano``) of each ``die`` event of one container."""

    def __init__(self, client: Any, container_id: str) -> None:
        self.times: list[float] = []
        self._changed = threading.Event()
        self._stream = client.events(
            decode=True, filters={"type": "container", "container": container_id, "event": "die"}
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        with contextlib.suppress(Exception):
            for event in self._stream:
                self.times.append(event["timeNano"] / 1e9)
                self._changed.set()

    def wait(self, index: int, timeout: float = 5.0) -> float | None:
        """The time of the ``index``-th die event (None if it never came)."""
        deadline = time.monotonic() + timeout
        while len(self.times) <= index and time.monotonic() < deadline:
            self._changed.wait(0.05)
            self._changed.clear()
        return self.times[index] if len(self.times) > index else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--runs", type=int, default=20, help="runs (20)")
    parser.add_argument(
        "--how",
        choices=("kill", "stop"),
        default="kill",
        help="how the container is stopped outside paitui (kill)",
    )
    parser.add_argument(
        "--apps", type=int, default=1, help="stand-ins running (the first is the one stopped) (1)"
    )
    parser.add_argument(
        "--interval", type=float, default=0.01, help="seconds between pane captures (0.01)"
    )
    parser.add_argument(
        "--shared-engine",
        action="store_true",
        help="use the machine's engine instead of a private dockerd",
    )
    args = parser.parse_args()
    raise_on_sigterm()
    print_machine()
    from_return: list[float] = []
    from_call: list[float] = []
    from_die: list[float] = []
    with (
        engine_for(not args.shared_engine) as (host, _pids),
        StandIns(args.apps, prefix="breact", docker_host=host) as standins,
        isolated_dirs() as dirs,
        ForeignEvents(standins.run_id, host) as foreign,
        TmuxPane(120, 40) as pane,
    ):
        if host:
            dirs = {**dirs, "DOCKER_HOST": host}
        standins.wait_serving()
        name = "Bench stand-in 000"
        container = standins.containers[standins.app_ids[0]]
        dies = DieTimes(standins.client, container.id)
        pane.respawn(paitui_argv([standins.catalog]), dirs)
        t1, text = pane.wait_for(first_frame, timeout=30)
        if t1 is None:
            raise SystemExit(f"paitui did not start:\n{text}")
        pane.send_keys("5")
        foreign.reset()
        for run in range(args.runs):
            ready, text = pane.wait_for(lambda s: "ready" in row_of(s, name), timeout=30)
            if ready is None:
                raise SystemExit(f"run {run}: {name} never showed ready:\n{text}")
            time.sleep(0.3)  # let the ready frame and its toast settle
            t_call = time.monotonic()
            if args.how == "kill":
                container.kill()
            else:
                container.stop(timeout=5)
            t_return = time.monotonic()
            seen, text = pane.wait_for(
                lambda s: any(w in row_of(s, name) for w in STOPPED_WORDS),
                timeout=10,
                interval=args.interval,
            )
            if seen is None:
                raise SystemExit(f"run {run}: the stop never showed:\n{text}")
            from_return.append(max(0.0, seen - t_return))
            from_call.append(seen - t_call)
            die = dies.wait(run)
            if die is not None:
                from_die.append(seen + (time.time() - time.monotonic()) - die)
            container.start()
        dies.close()
    med = statistics.median(from_die) if from_die else float("inf")
    print(
        f"docker {args.how} of 1 of {args.apps} apps, {args.runs} runs, pane polled every "
        f"{args.interval * 1000:.0f} ms; other managed-container events meanwhile: "
        f"{foreign.count}"
    )
    print(
        f"engine's die event (its timeNano) -> pane shows it: {summary(from_die)}  "
        f"[{verdict(med, TARGET_S)} < {TARGET_S * 1000:.0f} ms]"
    )
    print(f"{args.how} called -> pane shows it: {summary(from_call)}")
    print(
        f"{args.how} returned -> pane shows it: {summary(from_return)} (the call returns "
        "after the die event)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
