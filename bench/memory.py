"""Memory: paitui's RSS at start and its growth with 10 managed apps streaming logs.

    python bench/memory.py [--containers 10] [--rate 20] [--duration 1800] [--every 5] [--cycle 10]

``--containers`` busybox stand-ins (httpd on 8080, labelled as paitui's own) each print ``--rate``
log lines a second, on a private dockerd (``--shared-engine``: the machine's). ``python -m paitui
--catalog FILE`` runs in a 120x40 tmux pane on the Running screen (key 5); every ``--cycle`` seconds
the cursor moves to the next app, so the log view and the stats stream follow each app in turn (0
keeps the first one). VmRSS is read from /proc/PID/status every ``--every`` seconds for
``--duration`` seconds.

Printed: RSS at the first frame, once the screen has settled, at the end and at its peak; the growth
from settled to end; the least-squares slope over the second half of the run (after the bounded
buffers have filled) and what that slope would add over 30 minutes.

Target: RSS under 120 MB, growth under 5 MB over 30 minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

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
    rss_bytes,
    verdict,
)

TARGET_RSS_MB = 120.0
TARGET_GROWTH_MB = 5.0
MB = 1e6


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (y per x)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--containers", type=int, default=10, help="stand-ins (10)")
    parser.add_argument(
        "--rate", type=float, default=20.0, help="log lines a second per stand-in (20)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=1800.0,
        help="seconds to watch (1800 = the target's 30 minutes)",
    )
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples (5)")
    parser.add_argument(
        "--cycle",
        type=float,
        default=10.0,
        help="seconds before selecting the next app (10; 0 = never)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds after the Running screen shows before the baseline (10)",
    )
    parser.add_argument(
        "--shared-engine",
        action="store_true",
        help="use the machine's engine instead of a private dockerd",
    )
    args = parser.parse_args()
    raise_on_sigterm()
    print_machine()
    with (
        engine_for(not args.shared_engine) as (host, _pids),
        StandIns(
            args.containers, log_lines_per_s=args.rate, prefix="bmem", docker_host=host
        ) as standins,
        isolated_dirs() as dirs,
        ForeignEvents(standins.run_id, host) as foreign,
        TmuxPane(120, 40) as pane,
    ):
        if host:
            dirs = {**dirs, "DOCKER_HOST": host}
        standins.wait_serving()
        pane.respawn(paitui_argv([standins.catalog]), dirs)
        t_first, text = pane.wait_for(first_frame, timeout=30)
        if t_first is None:
            raise SystemExit(f"paitui did not start:\n{text}")
        pid = pane.pid()
        rss_first = (rss_bytes(pid) or 0) / MB
        pane.send_keys("5")
        pane.wait_for(lambda s: "Bench stand-in" in s, timeout=30)
        time.sleep(args.settle)
        foreign.reset()
        start = time.monotonic()
        samples: list[tuple[float, float]] = []
        next_cycle = start + args.cycle if args.cycle > 0 else float("inf")
        moves = 0
        while (now := time.monotonic()) - start <= args.duration:
            rss = rss_bytes(pid)
            if rss is None:
                raise SystemExit("paitui exited during the run")
            samples.append((now - start, rss / MB))
            if now >= next_cycle:
                moves += 1
                # Down through the stand-ins, back to the top after each pass.
                pane.send_keys("Home" if moves % args.containers == 0 else "Down")
                next_cycle = now + args.cycle
            time.sleep(max(0.0, min(args.every, next_cycle - time.monotonic())))
        threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
        fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
        pane.send_keys("q")
    settled = samples[0][1]
    end = samples[-1][1]
    peak = max(y for _, y in samples)
    second_half = [(x, y) for x, y in samples if x >= args.duration / 2]
    per_min = slope(second_half) * 60
    growth = end - settled
    print(
        f"{args.containers} apps x {args.rate:g} log lines/s, {args.duration:.0f} s "
        f"({args.duration / 60:.1f} min), selection moved {moves} times, "
        f"{len(samples)} samples; other managed-container events: {foreign.count}; "
        f"at the end {threads} threads, {fds} open files"
    )
    print(
        f"RSS at first frame {rss_first:.1f} MB; settled {settled:.1f} MB; end {end:.1f} MB; "
        f"peak {peak:.1f} MB  [{verdict(peak, TARGET_RSS_MB)} < {TARGET_RSS_MB:.0f} MB]"
    )
    print(
        f"growth settled -> end: {growth:+.2f} MB over {args.duration / 60:.1f} min; "
        f"second-half slope {per_min:+.3f} MB/min -> {per_min * 30:+.1f} MB per 30 min "
        f"[{verdict(max(growth, per_min * 30), TARGET_GROWTH_MB)} < {TARGET_GROWTH_MB:.0f} MB]"
    )
    print(
        "RSS (MB) every minute: "
        + " ".join(f"{y:.1f}" for x, y in samples if int(x) % 60 < args.every)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
