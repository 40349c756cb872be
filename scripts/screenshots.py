"""Make screenshots/*.svg from the real app with the fixed demo box (deterministic).

    python scripts/screenshots.py [--size 120x36] [--out screenshots] [--png]

Runs headless, so it needs no GPU, no Docker and no terminal. ``--png`` also converts each SVG
with ``rsvg-convert`` (Debian's librsvg2-bin) for a quick look.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREENS = [("home", "1"), ("hardware", "2"), ("catalog", "3"), ("models", "4"), ("running", "5")]


async def shoot(out: Path, width: int, height: int, theme: str | None, png: bool) -> list[Path]:
    """One SVG per screen (and the launch flow), returning the files written."""
    from paitui.services.registry import Services
    from paitui.settings import load_settings
    from paitui.ui.app import PaituiApp

    # Paths as on a real box, so the shots never show a temporary directory; nothing is
    # written there (the demo starts no download and no container).
    settings = load_settings().with_changes(
        models_dir=Path("/srv/paitui/models"), apps_dir=Path("/srv/paitui/apps")
    )
    if theme:
        settings = settings.with_changes(theme=theme)
    app = PaituiApp(Services(settings), demo=True)
    written: list[Path] = []
    suffix = f"-{theme}" if theme else ""
    async with app.run_test(size=(width, height), notifications=False) as pilot:
        await app.workers.wait_for_complete()
        for name, key in SCREENS:
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
            if name == "catalog":
                await pilot.press("down", "down")
                await pilot.pause()
            path = out / f"{name}{suffix}.svg"
            path.write_text(app.export_screenshot(title=f"paitui — {name}"))
            written.append(path)
        await pilot.press("1")
        await pilot.pause()
        app.open_launch("sd-webui-rx5500")
        await app.workers.wait_for_complete()
        await pilot.pause()
        path = out / f"launch{suffix}.svg"
        path.write_text(app.export_screenshot(title="paitui — launch"))
        written.append(path)
    if png and shutil.which("rsvg-convert"):
        for svg in written:
            subprocess.run(
                ["rsvg-convert", "-o", str(svg.with_suffix(".png")), str(svg)], check=True
            )
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="120x36", help="terminal size WxH (default 120x36)")
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    parser.add_argument(
        "--theme", action="append", default=None, help="also shoot with this theme (repeatable)"
    )
    parser.add_argument("--png", action="store_true", help="also write PNGs (for a quick look)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Isolated dirs: the user's settings, catalog.d and models never leak into screenshots.
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PAITUI_CONFIG_DIR"] = str(Path(tmp) / "config")
        os.environ["PAITUI_STATE_DIR"] = str(Path(tmp) / "state")
        files = asyncio.run(shoot(out, width, height, None, args.png))
        for theme in args.theme or []:
            files += asyncio.run(shoot(out, width, height, theme, args.png))
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
