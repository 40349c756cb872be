"""Start-up: import time, time to the first frame (headless and in tmux), what is imported by then.

    python bench/startup.py [--runs 5] [--skip-tmux] [--command "paitui"]

* import: ``python -X importtime -c "import paitui.ui.app"`` (cumulative µs of the package) and
  the wall time of that interpreter against a bare ``python -c pass``.
* headless: the real entry point (``paitui.cli.main.main([])``) with ``App.run`` switched to
  ``headless=True`` and an auto-pilot that notes the wall time when Textual has drawn the first
  frame (``Ready``) and when the catalog is on the Desktop; the parent notes the time just
  before it starts the process. The auto-pilot also lists the heavy modules loaded by then.
* tmux: ``python -m paitui`` respawned in a 120x40 pane of a private tmux server; the pane is
  polled every 10 ms for the footer (``q Quit``: the first frame) and for a catalog tile.

Target: first frame under 0.5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REPO,
    TmuxPane,
    first_frame,
    isolated_dirs,
    paitui_argv,
    print_machine,
    summary,
    verdict,
)

TARGET_S = 0.5
#: Modules that cost time to import and are needed only for some screens or commands.
HEAVY = (
    "docker",
    "huggingface_hub",
    "httpx",
    "pyudev",
    "requests",
    "yaml",
    "urllib3",
    "paitui.services.engine.client",
    "paitui.services.fleet.tracker",
    "paitui.services.models.hub",
)
#: Text on the Desktop once the catalog is loaded (a bundled app's tile).
CATALOG_MARK = "Ollama"

CHILD = r"""
import json, os, sys, time
import textual.app

HEAVY = {heavy!r}
marks = {{}}
orig_run = textual.app.App.run

async def pilot(p):
    app = p.app
    while not app._dom_ready:  # set when Textual posts Ready after the first frame
        await p.pause(0.001)
    marks["first_frame"] = time.time()
    marks["heavy_at_first_frame"] = [m for m in HEAVY if m in sys.modules]
    marks["modules_at_first_frame"] = len(sys.modules)
    deadline = time.monotonic() + 10
    while getattr(app, "catalog", None) is None and time.monotonic() < deadline:
        await p.pause(0.001)
    await p.pause()  # let the screens take the catalog signal
    marks["catalog"] = time.time()
    marks["heavy_at_catalog"] = [m for m in HEAVY if m in sys.modules]
    app.exit()

def run(self, **kwargs):
    kwargs.update(headless=True, size=(120, 40), auto_pilot=pilot)
    return orig_run(self, **kwargs)

textual.app.App.run = run
from paitui.cli.main import main
main([])
print("BENCH " + json.dumps(marks), flush=True)
"""


def child_env(base: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(base)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def import_times(runs: int, env: dict[str, str]) -> None:
    """Importtime of paitui.ui.app and wall time against a bare interpreter."""
    py = sys.executable
    cumulative: list[float] = []
    top: dict[str, int] = {}
    for _ in range(runs):
        out = subprocess.run(
            [py, "-X", "importtime", "-c", "import paitui.ui.app"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        for line in out.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if not m:
                continue
            self_us, cum_us, name = int(m.group(1)), int(m.group(2)), m.group(4)
            if name == "paitui.ui.app":
                cumulative.append(cum_us / 1e6)
            top[name] = min(top.get(name, 10**12), self_us)
    print(f"import paitui.ui.app (-X importtime, cumulative): {summary(cumulative)}")
    heaviest = sorted(top.items(), key=lambda kv: -kv[1])[:8]
    print(
        "  heaviest modules by own time (min over runs): "
        + ", ".join(f"{n} {us / 1000:.1f} ms" for n, us in heaviest)
    )

    def wall(code: str) -> list[float]:
        times = []
        for _ in range(runs):
            t0 = time.monotonic()
            subprocess.run([py, "-c", code], env=env, check=True)
            times.append(time.monotonic() - t0)
        return times

    bare = wall("pass")
    ui = wall("import paitui.ui.app")
    cli = wall("import paitui.cli.main as m; m.build_parser()")
    print(f"python -c pass (interpreter alone): {summary(bare)}")
    print(f"python -c 'import paitui.ui.app': {summary(ui)}")
    print(f"python -c 'import paitui.cli.main; build_parser()': {summary(cli)}")


def headless(runs: int, env: dict[str, str]) -> list[float]:
    code = CHILD.format(heavy=HEAVY)
    first: list[float] = []
    catalog: list[float] = []
    heavy_first: set[str] = set()
    heavy_catalog: set[str] = set()
    modules = []
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
        )
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH ")), None)
        if line is None:
            print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
            raise SystemExit("the headless run reported nothing")
        marks = json.loads(line[6:])
        first.append(marks["first_frame"] - t0)
        catalog.append(marks["catalog"] - t0)
        heavy_first.update(marks["heavy_at_first_frame"])
        heavy_catalog.update(marks["heavy_at_catalog"])
        modules.append(marks["modules_at_first_frame"])
    print(
        f"headless: launch -> first frame: {summary(first)}"
        f"  [{verdict(statistics.median(first), TARGET_S)} < {TARGET_S * 1000:.0f} ms]"
    )
    print(f"headless: launch -> catalog on the Desktop: {summary(catalog)}")
    print(f"  modules loaded at the first frame: {statistics.median(modules):.0f}")
    print(f"  heavy modules at the first frame: {sorted(heavy_first) or 'none'}")
    print(f"  heavy modules once the catalog is shown: {sorted(heavy_catalog) or 'none'}")
    return first


def in_tmux(runs: int, env: dict[str, str], argv: list[str]) -> list[float]:
    first: list[float] = []
    catalog: list[float] = []
    with TmuxPane(120, 40) as pane:
        for _ in range(runs):
            t0 = pane.respawn(argv, env)
            t1, text = pane.wait_for(first_frame, timeout=15)
            t2, _ = pane.wait_for(lambda s: CATALOG_MARK in s, timeout=15)
            if t1 is None or t2 is None:
                print(text, file=sys.stderr)
                raise SystemExit("paitui did not show its first screen in tmux within 15 s")
            first.append(t1 - t0)
            catalog.append(t2 - t0)
            pane.send_keys("q")
            pane.wait_exit()
    print(
        f"tmux 120x40 ({' '.join(shlex.quote(a) for a in argv[:3])}): launch -> first frame: "
        f"{summary(first)}  [{verdict(statistics.median(first), TARGET_S)} "
        f"< {TARGET_S * 1000:.0f} ms]"
    )
    print(f"tmux 120x40: launch -> catalog tiles shown: {summary(catalog)}")
    return first


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (5)")
    parser.add_argument("--skip-tmux", action="store_true", help="only import and headless")
    parser.add_argument(
        "--command",
        default=None,
        help="what to start in tmux instead of `python -m paitui`, e.g. paitui",
    )
    args = parser.parse_args()
    print_machine()
    with isolated_dirs() as dirs:
        env = child_env(dirs)
        import_times(args.runs, env)
        headless(args.runs, env)
        if not args.skip_tmux:
            argv = shlex.split(args.command) if args.command else paitui_argv()
            in_tmux(args.runs, {**dirs, "PYTHONPATH": str(REPO)}, argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
