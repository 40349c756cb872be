"""Engine service benchmarks on the real Docker engine and the local registry.

    python bench/engine.py [--runs N] [--pull-runs N] [--layer-mb 30,30,30]

1. Event latency: a managed busybox container is started and stopped N times; for each
   ``start``/``die`` event the time from the engine's own timestamp of the change (``timeNano``)
   to its delivery by ``Engine.events()`` is measured, and also from the API call to delivery.
2. Pull time: an image of busybox plus a few layers of random bytes is pushed to the registry;
   then, alternating, it is removed and pulled through ``Engine.pull`` and through ``docker pull``.
Everything the script creates is labelled/named uniquely and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker

from paitui.domain.catalog.schema import App
from paitui.domain.engine.containers import EngineEvent, ManagedSnapshot
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.planner import plan_launch
from paitui.services.engine.client import Engine
from paitui.settings import Settings

REGISTRY = "127.0.0.1:5000"
BUSYBOX = f"{REGISTRY}/paitest/busybox:latest"


def _stand_in(app_id: str) -> App:
    return App.model_validate(
        {
            "id": app_id,
            "name": app_id,
            "description": "bench",
            "kind": "other",
            "variants": {"cpu": {"image": BUSYBOX}},
            "entrypoint": ["/bin/sh", "-c"],
            "command": ["sleep 3600 & pid=$!; trap 'kill $pid; exit 0' TERM; wait"],
        }
    )


async def bench_events(runs: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="paitui-bench-"))
    engine = Engine(Settings(models_dir=tmp / "m", apps_dir=tmp / "a"))
    app = _stand_in(f"bench-{uuid.uuid4().hex[:8]}")
    queue: asyncio.Queue[tuple[float, EngineEvent]] = asyncio.Queue()

    async def follow() -> None:
        async for update in engine.events():
            now = time.time()
            if isinstance(update, ManagedSnapshot):
                ready.set()
            elif isinstance(update, EngineEvent) and update.app_id == app.id:
                await queue.put((now, update))

    ready = asyncio.Event()
    task = asyncio.create_task(follow())
    await ready.wait()
    lag: list[float] = []
    call_to_event: dict[str, list[float]] = {"start": [], "die": []}

    async def wait_action(action: str) -> tuple[float, EngineEvent]:
        while True:
            arrived, ev = await queue.get()
            if ev.action == action:
                return arrived, ev

    try:
        info = await engine.launch(plan_launch(app, HardwareReport(), engine.settings))
        arrived, ev = await wait_action("start")
        for _ in range(runs):
            t0 = time.time()
            await engine.stop(info.id, timeout=5)
            arrived, ev = await wait_action("die")
            lag.append(arrived - ev.time)
            call_to_event["die"].append(arrived - t0)
            t0 = time.time()
            await engine.start(info.id)
            arrived, ev = await wait_action("start")
            lag.append(arrived - ev.time)
            call_to_event["start"].append(arrived - t0)
        await engine.remove(info.id)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.close()
    return {
        "events": len(lag),
        "lag_median_ms": statistics.median(lag) * 1000,
        "lag_max_ms": max(lag) * 1000,
        "stop_call_to_die_median_ms": statistics.median(call_to_event["die"]) * 1000,
        "start_call_to_start_median_ms": statistics.median(call_to_event["start"]) * 1000,
    }


def _build_image(client: docker.DockerClient, layer_mb: list[int]) -> str:
    repo = f"{REGISTRY}/paitest/bench-pull-{uuid.uuid4().hex[:8]}"
    current = BUSYBOX
    made = []
    for i, size in enumerate(layer_mb):
        c = client.containers.run(
            current,
            ["dd", "if=/dev/urandom", f"of=/l{i}", "bs=1048576", f"count={size}"],
            detach=True,
        )
        c.wait(timeout=120)
        c.commit(repository=repo, tag=f"s{i}")
        c.remove(force=True)
        current = f"{repo}:s{i}"
        made.append(current)
    client.images.get(current).tag(repo, "v1")
    for line in client.api.push(repo, tag="v1", stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(line["error"])
    for tag in made:
        client.images.remove(tag)
    return f"{repo}:v1"


def _delete_from_registry(image: str) -> None:
    import httpx

    repo = image.split("/", 1)[1].rsplit(":", 1)[0]
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    with contextlib.suppress(Exception):
        url = f"http://{REGISTRY}/v2/{repo}/manifests/v1"
        digest = httpx.get(url, headers={"Accept": accept}).headers["Docker-Content-Digest"]
        httpx.delete(f"http://{REGISTRY}/v2/{repo}/manifests/{digest}")


async def bench_pull(runs: int, layer_mb: list[int]) -> dict[str, Any]:
    client = docker.from_env()
    image = _build_image(client, layer_mb)
    tmp = Path(tempfile.mkdtemp(prefix="paitui-bench-"))
    engine = Engine(Settings(models_dir=tmp / "m", apps_dir=tmp / "a"))
    ours: list[float] = []
    cli: list[float] = []
    sdk: list[float] = []
    try:
        for run in range(runs):
            # Alternate who goes first, so neither profits from a warmer registry or disk.
            order = ("engine", "cli", "sdk")
            for who in order if run % 2 == 0 else order[::-1]:
                client.images.remove(image, force=True)
                t0 = time.perf_counter()
                if who == "engine":
                    await engine.pull(image)
                    ours.append(time.perf_counter() - t0)
                elif who == "sdk":
                    # The bare SDK stream, for the cost of paitui's own progress folding.
                    repo, tag = image.rsplit(":", 1)
                    for _ in client.api.pull(repo, tag=tag, stream=True, decode=True):
                        pass
                    sdk.append(time.perf_counter() - t0)
                else:
                    subprocess.run(["docker", "pull", "-q", image], check=True, capture_output=True)
                    cli.append(time.perf_counter() - t0)
    finally:
        with contextlib.suppress(Exception):
            client.images.remove(image, force=True)
        _delete_from_registry(image)
        await engine.close()
        client.close()
    return {
        "image_mb": sum(layer_mb),
        "engine_pull_median_s": statistics.median(ours),
        "docker_pull_median_s": statistics.median(cli),
        "sdk_pull_median_s": statistics.median(sdk),
        "ratio": statistics.median(ours) / statistics.median(cli),
        "engine_runs_s": [round(x, 3) for x in ours],
        "docker_runs_s": [round(x, 3) for x in cli],
        "sdk_runs_s": [round(x, 3) for x in sdk],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pull-runs", type=int, default=5)
    parser.add_argument("--layer-mb", default="30,30,30")
    args = parser.parse_args()
    events = asyncio.run(bench_events(args.runs))
    print("events:", {k: round(v, 2) for k, v in events.items()})
    pull = asyncio.run(bench_pull(args.pull_runs, [int(x) for x in args.layer_mb.split(",")]))
    print("pull:", {k: (round(v, 3) if isinstance(v, float) else v) for k, v in pull.items()})


if __name__ == "__main__":
    main()
