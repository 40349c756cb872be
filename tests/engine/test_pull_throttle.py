"""Image-pull progress is throttled and coalesced: a flood of layer messages becomes at most one
update per 100 ms, and no byte is lost in the updates dropped between."""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
from typing import Any

import pytest

from paitui.domain.engine.containers import PullProgress
from paitui.domain.engine.pull import UPDATE_INTERVAL, ProgressThrottle, PullTracker
from paitui.services.engine import client as client_module
from paitui.services.engine.client import Engine
from tests.engine.conftest import LayeredImage

RNG = random.Random(2026_12_01)


class Clock:
    """A clock the test moves by hand (pure logic: the throttle only reads it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def flood(layers: int, chunks: int) -> list[tuple[float, dict[str, Any]]]:
    """Interleaved download messages of ``layers`` layers, ``chunks`` each, with their times."""
    sizes = {f"layer{i:02d}": RNG.randrange(1 << 20, 50 << 20) for i in range(layers)}
    messages: list[tuple[float, dict[str, Any]]] = []
    t = 0.0
    for step in range(1, chunks + 1):
        for lid, size in sizes.items():
            t += RNG.uniform(0.0, 0.002)  # a local registry: many messages per millisecond
            detail = {"current": size * step // chunks, "total": size}
            messages.append((t, {"status": "Downloading", "id": lid, "progressDetail": detail}))
    for lid in sizes:
        messages.append((t, {"status": "Pull complete", "id": lid}))
    messages.append((t, {"status": "Status: Downloaded newer image for x"}))
    return messages


@pytest.mark.parametrize(("layers", "chunks"), [(1, 400), (12, 300), (40, 60)])
def test_a_flood_of_layer_messages_is_one_update_per_interval(layers: int, chunks: int) -> None:
    clock = Clock()
    tracker = PullTracker("x", clock=clock)
    throttle = ProgressThrottle(clock=clock)
    passed: list[tuple[float, PullProgress]] = []
    messages = flood(layers, chunks)
    for t, msg in messages:
        clock.now = t
        progress = tracker.feed(msg)
        if throttle.due(progress):
            passed.append((t, progress))
    elapsed = messages[-1][0]
    assert len(messages) > 10 * len(passed)
    # At most one per interval, plus the first, the first with bytes and the finished one.
    assert len(passed) <= elapsed / UPDATE_INTERVAL + 3
    moving = next(i for i, (_, p) in enumerate(passed) if p.downloaded > 0)
    assert 0 < passed[moving][1].downloaded < passed[moving][1].total
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(passed[moving:-1])]
    assert all(gap >= UPDATE_INTERVAL for gap in gaps)
    # Coalesced, not lost: the last update holds every layer's bytes.
    last = passed[-1][1]
    assert last.done and len(last.layers) == layers
    assert last.downloaded == last.total == sum(la.total for la in last.layers) > 0
    assert [p.downloaded for _, p in passed] == sorted(p.downloaded for _, p in passed)


def test_the_first_and_the_finished_update_always_pass() -> None:
    clock = Clock()
    throttle = ProgressThrottle(interval=10.0, clock=clock)
    start = PullProgress("x", (), 0, 0, 0.0, None, "Pulling from x", False)
    assert throttle.due(start)
    assert not throttle.due(start)
    # The first bytes moving pass at once (a pull shorter than the interval still shows them);
    # later ones wait for the interval.
    assert throttle.due(PullProgress("x", (), 10, 100, 0.0, None, "Downloading", False))
    assert not throttle.due(PullProgress("x", (), 20, 100, 0.0, None, "Downloading", False))
    clock.now = 0.001
    assert throttle.due(PullProgress("x", (), 0, 0, 0.0, 0.0, "Status: done", True))


@pytest.mark.docker
async def test_a_real_pull_reports_at_most_one_update_per_interval(
    engine: Engine,
    layered_image: LayeredImage,
    docker_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    messages: list[dict[str, Any]] = []

    class Counting(PullTracker):
        def feed(self, msg: dict[str, Any]) -> PullProgress:
            messages.append(msg)
            return super().feed(msg)

    monkeypatch.setattr(client_module, "PullTracker", Counting)
    with contextlib.suppress(Exception):  # not present: nothing to remove
        docker_client.images.remove(layered_image.name, force=True)
    times: list[float] = []
    seen: list[PullProgress] = []
    lock = threading.Lock()

    def on_progress(p: PullProgress) -> None:
        with lock:
            times.append(time.monotonic())
            seen.append(p)

    final = await engine.pull(layered_image.name, on_progress, threading.Event())
    assert final.done and seen[-1] is final
    # The first bytes may follow the first update at once, and the finished update the last
    # throttled one; all others are spaced.
    moving = next(i for i, p in enumerate(seen) if p.downloaded > 0)
    gaps = [b - a for a, b in itertools.pairwise(times[moving:-2])]
    assert all(gap >= UPDATE_INTERVAL * 0.99 for gap in gaps), gaps
    assert final.downloaded == final.total > 0
    # The engine's messages (one per layer per chunk) were coalesced: at most one update per
    # interval of the pull, however many messages came (a fast pull on a busy box sends few).
    elapsed = times[-1] - times[0]
    assert len(seen) <= min(elapsed / UPDATE_INTERVAL + 3, len(messages)), (
        len(messages),
        len(seen),
        elapsed,
    )
