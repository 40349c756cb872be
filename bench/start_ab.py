"""Start-up of two checkouts of paitui, interleaved: launch → first frame → apps listed.

    python bench/start_ab.py OLD_TREE [NEW_TREE] [--apps 50] [--rounds 6]

Both trees (a ``git worktree`` of an older commit, and this checkout by default) start in the
same 120x40 tmux pane against the same private dockerd and the same ``--apps`` ready stand-ins,
alternately (old, new, then new, old, ...), each with its own config and state dirs, so that a
machine whose speed drifts over minutes (a shared box) weighs on both alike. Each round
launches each tree twice: to the Desktop (listed: a stand-in's tile with its state) and to the
Running screen (key 5 at the first frame; listed: a stand-in's row). A first round warms the
page cache and the state dirs (the catalog preview) and is not counted.

Printed: the median (min-max) of each figure per tree, and the load average at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REPO,
    PrivateEngine,
    StandIns,
    TmuxPane,
    first_frame,
    isolated_dirs,
    print_machine,
    raise_on_sigterm,
)
from peer import paitui_desktop_listed, paitui_running_listed
from profile_paitui import quit_pane

SCREENS = ("desktop", "running")


def launch(
    pane: TmuxPane, tree: Path, env: dict[str, str], catalog: Path, screen: str
) -> tuple[float, float]:
    """(launch → first frame, launch → listed) in ms, for one tree on one screen."""
    argv = [sys.executable, "-m", "paitui", "--catalog", str(catalog)]
    # The tree's own code: ``python -m`` puts the working directory first on sys.path.
    t0 = pane.respawn(argv, {**env, "PYTHONPATH": str(tree)}, cwd=tree)
    t1, text = pane.wait_for(first_frame, timeout=30)
    if t1 is None:
        raise SystemExit(f"{tree}: no first frame within 30 s:\n{text}")
    if screen == "running":
        pane.send_keys("5")
    check = paitui_running_listed if screen == "running" else paitui_desktop_listed
    t2, text = pane.wait_for(check, timeout=30)
    if t2 is None:
        raise SystemExit(f"{tree}: no app listed on {screen} within 30 s:\n{text}")
    quit_pane(pane)
    return (t1 - t0) * 1000, (t2 - t0) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("old", type=Path, help="the checkout to compare with (a worktree)")
    parser.add_argument("new", type=Path, nargs="?", default=REPO, help="default: this one")
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    for name, tree in trees.items():
        if not (tree / "paitui" / "__main__.py").is_file():
            parser.error(f"{name} tree {tree} has no paitui/__main__.py")
    raise_on_sigterm()
    print_machine()
    times: dict[tuple[str, str, str], list[float]] = {}
    with (
        PrivateEngine() as engine,
        StandIns(args.apps, prefix="bstab", docker_host=engine.host) as standins,
        TmuxPane(120, 40) as pane,
        contextlib.ExitStack() as stack,
    ):
        standins.wait_serving()
        dirs = {name: stack.enter_context(isolated_dirs()) for name in trees}
        for r in range(args.rounds + 1):
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for name in order:
                env = {**dirs[name], "DOCKER_HOST": engine.host}
                for screen in SCREENS:
                    first, listed = launch(pane, trees[name], env, standins.catalog, screen)
                    if r == 0:
                        continue  # warm-up
                    times.setdefault((name, screen, "first frame"), []).append(first)
                    times.setdefault((name, screen, "listed"), []).append(listed)
    print(f"\n{args.rounds} interleaved rounds, {args.apps} ready stand-ins")
    print("| figure (median (min–max), ms) | old | new |")
    print("|---|---|---|")
    for screen in SCREENS:
        for what in ("first frame", "listed"):
            cells = []
            for name in trees:
                values = times[(name, screen, what)]
                cells.append(
                    f"{statistics.median(values):.0f} ({min(values):.0f}–{max(values):.0f})"
                )
            print(f"| launch → {what}, {screen} | {' | '.join(cells)} |")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
