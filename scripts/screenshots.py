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


#: A small library as a newcomer's box holds after the first-run flow: (repo, file, size, the
#: tensor names its header carries, or a GGUF architecture). Files are sparse: no disk is used.
SAMPLE_MODELS: list[tuple[str, str, int, list[str] | str]] = [
    ("bartowski/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-Q4_K_M.gguf", 807_694_464,
     "llama"),
    ("stable-diffusion-v1-5/stable-diffusion-v1-5", "v1-5-pruned-emaonly.safetensors",
     4_265_146_304, ["model.diffusion_model.input_blocks.0.0.weight",
                     "first_stage_model.encoder.conv_in.weight",
                     "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"]),
    ("stabilityai/sd-vae-ft-mse-original", "vae-ft-mse-840000-ema-pruned.safetensors",
     334_641_164, ["encoder.conv_in.weight", "decoder.conv_in.weight"]),
]  # fmt: skip


def _gguf_header(arch: str) -> bytes:
    """The smallest GGUF v3 header: no tensors, one key (general.architecture)."""
    import struct

    def text(value: str) -> bytes:
        return struct.pack("<Q", len(value)) + value.encode()

    kv = text("general.architecture") + struct.pack("<I", 8) + text(arch)
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv


def _safetensors_header(names: list[str], size: int) -> bytes:
    import json

    tensors: dict[str, object] = {}
    for i, name in enumerate(names):
        tensors[name] = {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]}
    body = json.dumps(tensors).encode()
    body += b" " * (-len(body) % 8)
    return len(body).to_bytes(8, "little") + body


def sample_store(root: Path) -> object:
    """A models store holding SAMPLE_MODELS, as sparse files with real headers."""
    from paitui.services.models.store import ModelStore

    store = ModelStore(root)
    for repo, name, size, header in SAMPLE_MODELS:
        path = store.path_for(repo, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(header, str):
            head = _gguf_header(header)
        else:
            head = _safetensors_header(header, size)
        with open(path, "wb") as fh:
            fh.write(head)
            fh.truncate(size)
        store.record(repo, name, size=size, sha256="0" * 64, revision="0" * 40)
    return store


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
    services = Services(settings)
    # The library shows a few models; the shots name the store by its settings path.
    services.model_store = sample_store(Path(os.environ["PAITUI_STATE_DIR"]) / "models")  # type: ignore[assignment]
    app = PaituiApp(services, demo=True)
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
