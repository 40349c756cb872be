"""Pull progress: the engine's per-layer JSON messages folded into one ``PullProgress``.

Per layer the engine sends "Pulling fs layer"/"Waiting", then "Downloading" with
``progressDetail.current/total`` (total = compressed blob size), "Verifying Checksum",
"Download complete", "Extracting" (same total, current = bytes extracted) and "Pull complete";
or just "Already exists". Overall bytes count downloads only, so Extracting never adds to them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paitui.domain.engine.containers import LayerProgress, PullProgress

_DOWNLOADED = {"Verifying Checksum", "Download complete", "Extracting", "Pull complete"}
#: Seconds of history the speed is averaged over.
SPEED_WINDOW = 3.0
#: At most one progress update per this many seconds reaches the screen or the terminal.
UPDATE_INTERVAL = 0.1


@dataclass
class _Layer:
    status: str = ""
    current: int = 0
    total: int = 0
    extracted: int = 0


class PullTracker:
    """Folds pull messages into a PullProgress; feed it every message in order."""

    def __init__(self, image: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.image = image
        self._clock = clock
        self._layers: dict[str, _Layer] = {}
        self._samples: deque[tuple[float, int]] = deque()
        self._status = ""
        self._done = False
        self._start = clock()

    def feed(self, msg: dict[str, Any]) -> PullProgress:
        """Take one message from the engine; returns the progress after it."""
        status = str(msg.get("status", ""))
        layer_id = msg.get("id")
        detail = msg.get("progressDetail") or {}
        # Layer messages carry an id; "Pulling from x" carries the tag as id, and has no layer.
        if layer_id and not status.startswith("Pulling from"):
            layer = self._layers.setdefault(str(layer_id), _Layer())
            layer.status = status
            total = int(detail.get("total") or 0)
            current = int(detail.get("current") or 0)
            if total > 0:
                layer.total = max(layer.total, total)
            if status == "Downloading":
                layer.current = min(current, layer.total) if layer.total else current
            elif status == "Extracting":
                layer.extracted = current
            if status in _DOWNLOADED:
                layer.current = layer.total
            if status == "Pull complete":
                layer.extracted = layer.total
        elif status:
            self._status = status
            if status.startswith("Status:"):
                self._done = True
        return self.progress()

    def finish(self) -> PullProgress:
        """The final progress once the stream ended without error."""
        self._done = True
        for layer in self._layers.values():
            if layer.status not in ("Already exists", "Pull complete"):
                layer.status = "Pull complete"
            layer.current = layer.total
            layer.extracted = layer.total
        return self.progress()

    def progress(self) -> PullProgress:
        """The state now: layers, bytes, speed over the last seconds, ETA."""
        layers = tuple(
            LayerProgress(lid, la.status, la.current, la.total, la.extracted)
            for lid, la in self._layers.items()
        )
        downloaded = sum(la.current for la in layers)
        total = sum(la.total for la in layers)
        now = self._clock()
        self._samples.append((now, downloaded))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW:
            self._samples.popleft()
        t0, b0 = self._samples[0]
        speed = (downloaded - b0) / (now - t0) if now > t0 else 0.0
        if speed <= 0 and now > self._start and downloaded:
            speed = downloaded / (now - self._start)
        eta = None
        if self._done:
            eta = 0.0
        elif speed > 0 and total >= downloaded:
            eta = (total - downloaded) / speed
        return PullProgress(
            image=self.image,
            layers=layers,
            downloaded=downloaded,
            total=total,
            speed=speed,
            eta=eta,
            status=self._status,
            done=self._done,
        )


class ProgressThrottle:
    """Lets through at most one progress per ``interval`` seconds.

    The engine sends a message per layer per chunk (thousands for a big image, many per
    millisecond from a local registry); each ``PullProgress`` already folds every layer, so the
    ones dropped in between lose nothing: the next one let through holds their bytes. The first,
    the first with bytes moving (so even a pull shorter than ``interval`` shows it downloading)
    and the finished one always pass.
    """

    def __init__(
        self, interval: float = UPDATE_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self._moving = False

    def due(self, progress: PullProgress) -> bool:
        """Whether to hand on ``progress`` now (and count it as handed on)."""
        now = self._clock()
        first_bytes = not self._moving and 0 < progress.downloaded < progress.total
        if first_bytes:
            self._moving = True
        if progress.done or first_bytes or self._last is None or now - self._last >= self.interval:
            self._last = now
            return True
        return False


def split_image(image: str) -> tuple[str, str]:
    """``repo[:tag|@digest]`` into (repo, tag-or-digest); the tag defaults to latest."""
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"
