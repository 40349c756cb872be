"""Reaction: a managed container stopped outside paitui -> the Running screen in tmux shows it.

    python bench/reaction.py [--runs 20] [--how kill|stop] [--apps 1] [--interval 0.01]

``--apps`` busybox stand-ins (httpd on 8080, labelled as paitui's own, the health check answers)
and ``python -m paitui --catalog FILE`` in a 120x40 tmux pane on the Running screen (key 5).
Each run waits until the first stand-in's row says ``ready``, then ``docker kill`` (or
``docker stop``; the stand-in traps TERM, so a stop is quick) through the SDK, and polls
``tmux capture-pane`` every ``--interval`` seconds until that row shows the stop (``exited`` or
``crashed``). Timed from the moment the engine's kill/stop call returned, as the peer figure
was, and also from just before the call. The container is then started again and the next run
waits for ``ready`` once more.

Target: under 150 ms (median of 20). Peer (lazydocker): 52-55 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ForeignEvents,
    StandIns,
    TmuxPane,
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
        if line.lstrip().startswith(name) and ("ready" in line or any(
                w in line for w in (*STOPPED_WORDS, "starting", "stopping", "unhealthy"))):
            return line
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--runs", type=int, default=20, help="runs (20)")
    parser.add_argument("--how", choices=("kill", "stop"), default="kill",
                        help="how the container is stopped outside paitui (kill)")
    parser.add_argument("--apps", type=int, default=1,
                        help="stand-ins running (the first is the one stopped) (1)")
    parser.add_argument("--interval", type=float, default=0.01,
                        help="seconds between pane captures (0.01)")
    args = parser.parse_args()
    raise_on_sigterm()
    print_machine()
    from_return: list[float] = []
    from_call: list[float] = []
    with StandIns(args.apps, prefix="breact") as standins, isolated_dirs() as dirs, \
            ForeignEvents(standins.run_id) as foreign, TmuxPane(120, 40) as pane:
        standins.wait_serving()
        name = "Bench stand-in 000"
        container = standins.containers[standins.app_ids[0]]
        pane.respawn(paitui_argv([standins.catalog]), dirs)
        t1, text = pane.wait_for(lambda s: "Quit" in s, timeout=30)
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
                timeout=10, interval=args.interval)
            if seen is None:
                raise SystemExit(f"run {run}: the stop never showed:\n{text}")
            from_return.append(max(0.0, seen - t_return))
            from_call.append(seen - t_call)
            container.start()
    med = statistics.median(from_return)
    print(f"docker {args.how} of 1 of {args.apps} apps, {args.runs} runs, pane polled every "
          f"{args.interval * 1000:.0f} ms; other managed-container events meanwhile: "
          f"{foreign.count}")
    print(f"{args.how} returned -> pane shows it: {summary(from_return)}  "
          f"[{verdict(med, TARGET_S)} < {TARGET_S * 1000:.0f} ms]")
    print(f"{args.how} called -> pane shows it: {summary(from_call)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
