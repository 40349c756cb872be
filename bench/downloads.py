"""Model download throughput: paitui vs ``hf download`` vs curl, same file, same local server.

Generates a random file (1 GiB by default) in a temp dir, serves it with the test suite's Hub
server (``tests/models/hub_server.py``, in its own process: a 302 from the "hub" to the "CDN"
port, like LFS files on the real hub), and times each client downloading it into the temp dir:

- ``paitui models pull`` (stream-hashes sha256 and verifies it; fsyncs; renames into place)
- ``hf download`` (huggingface_hub's CLI; checks only the size)
- ``curl -L`` (no checks at all: the ceiling)

Each client runs ``--runs`` times (median reported); the output is deleted between runs.
With ``--ui`` it also downloads the file once inside a headless Models screen and reports the
event loop's lag (how long a 20 ms sleep overshoots) while progress flows in.
Run: ``python bench/downloads.py [--size-mib 1024] [--runs 3] [--ui]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REPO_ID = "bench/one-file"
NAME = "model.bin"


def make_file(path: Path, size_mib: int) -> None:
    """Random bytes (incompressible, like weights)."""
    chunk = 1 << 20
    with open(path, "wb") as fh:
        for _ in range(size_mib):
            fh.write(os.urandom(chunk))


def start_server(work: Path, blob: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The Hub stand-in in its own process; returns it and its endpoint URL."""
    ready = work / "endpoint"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "tests" / "models" / "hub_server.py"),
            "--file",
            f"{REPO_ID}:{NAME}:{blob}",
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    deadline = time.monotonic() + 120  # the server hashes the file first
    while not ready.exists() or not ready.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the hub server did not start")
        time.sleep(0.1)
    return proc, ready.read_text()


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds one command takes; exits on failure."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return took


def ui_lag(endpoint: str, work: Path) -> None:
    """Event-loop lag of the Models screen while it shows the same download's progress."""
    import asyncio

    os.environ["HF_ENDPOINT"] = endpoint
    os.environ["PAITUI_STATE_DIR"] = str(work / "ui-state")
    os.environ["PAITUI_CONFIG_DIR"] = str(work / "config")
    from textual.app import App

    from paitui.domain.models.records import DownloadState
    from paitui.services.registry import Services
    from paitui.settings import load_settings
    from paitui.ui.screens.models import ModelsScreen

    services = Services(load_settings())

    class Host(App[None]):
        def __init__(self) -> None:
            super().__init__()
            self.services = services
            self.settings = services.settings
            self.hardware_report = None

        def on_mount(self) -> None:
            self.push_screen(ModelsScreen())

    handled = 0
    posted = 0
    original = ModelsScreen.on_models_screen_downloads_changed

    def counting(self: ModelsScreen, message: ModelsScreen.DownloadsChanged) -> None:
        nonlocal handled
        handled += 1
        original(self, message)

    # Handlers are looked up on the class: count there (bench only).
    ModelsScreen.on_models_screen_downloads_changed = counting  # type: ignore[method-assign]

    def count_posted(_: object) -> None:
        nonlocal posted
        posted += 1

    async def run() -> None:
        app = Host()
        async with app.run_test(size=(140, 40)) as pilot:
            services.downloads.add_listener(count_posted)
            info = services.hub.repo_info(REPO_ID)
            start = time.perf_counter()
            services.downloads.enqueue(info.repo_id, info.commit, list(info.files))
            lags: list[float] = []
            while services.downloads.snapshot()[0].state not in (
                DownloadState.DONE,
                DownloadState.FAILED,
            ):
                t = time.perf_counter()
                await asyncio.sleep(0.02)
                lags.append(time.perf_counter() - t - 0.02)
            took = time.perf_counter() - start
            await pilot.pause()
            lags.sort()
            p50, p99 = lags[len(lags) // 2] * 1000, lags[int(len(lags) * 0.99)] * 1000
            print(
                f"UI while downloading ({took:.2f} s): event-loop lag p50 {p50:.1f} ms, "
                f"p99 {p99:.1f} ms, max {lags[-1] * 1000:.1f} ms over {len(lags)} samples; "
                f"{posted} progress updates posted, {handled} handled (coalesced)"
            )

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tmp", default=None, help="where to put the file and the downloads")
    parser.add_argument("--ui", action="store_true", help="also measure the UI's event-loop lag")
    args = parser.parse_args()
    hf = shutil.which("hf")
    curl = shutil.which("curl")
    work = Path(tempfile.mkdtemp(prefix="paitui-bench-", dir=args.tmp))
    try:
        blob = work / "source.bin"
        make_file(blob, args.size_mib)
        size = blob.stat().st_size
        server, endpoint = start_server(work, blob)
        try:
            env = {
                **os.environ,
                "HF_ENDPOINT": endpoint,
                "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                "HF_HUB_DISABLE_TELEMETRY": "1",
                "PAITUI_CONFIG_DIR": str(work / "config"),
                "PAITUI_STATE_DIR": str(work / "state"),
            }
            env.pop("HF_TOKEN", None)
            url = f"{endpoint}/{REPO_ID}/resolve/main/{NAME}"
            clients: dict[str, tuple[list[str], Path]] = {
                "paitui": (
                    [sys.executable, "-m", "paitui", "models", "pull", REPO_ID, NAME],
                    work / "state",
                ),
            }
            if hf:
                clients["hf download"] = (
                    [hf, "download", REPO_ID, NAME, "--cache-dir", str(work / "hf")],
                    work / "hf",
                )
            else:
                print("hf (huggingface_hub CLI) not found: skipped")
            if curl:
                clients["curl"] = (
                    [curl, "-sSfL", "-o", str(work / "curl.bin"), url],
                    work / "curl.bin",
                )
            results: dict[str, list[float]] = {name: [] for name in clients}
            for _ in range(args.runs):
                for name, (cmd, out) in clients.items():  # interleaved: fair to each
                    results[name].append(timed(cmd, env))
                    if out.is_dir():
                        shutil.rmtree(out)
                    else:
                        out.unlink()
            if args.ui:
                ui_lag(endpoint, work)
        finally:
            server.terminate()
            server.wait(10)
        print(f"file: {size / 2**20:.0f} MiB, {args.runs} runs each, median wall time per run")
        medians = {name: statistics.median(times) for name, times in results.items()}
        for name, med in medians.items():
            runs = ", ".join(f"{t:.2f}" for t in results[name])
            print(f"  {name:<12} {med:6.2f} s  {size / med / 1e6:7.0f} MB/s   (runs: {runs})")
        ours = medians["paitui"]
        for other in ("hf download", "curl"):
            if other in medians:
                print(f"  paitui throughput / {other}: {medians[other] / ours:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
