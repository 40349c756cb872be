"""How a download ends early: the error users see, and the signals between its steps."""

from __future__ import annotations


class DownloadError(Exception):
    """A download cannot start or failed; ``str()`` is a one-line message with the fix."""


class Stop(Exception):
    """Raised inside a transfer when the user paused or cancelled it."""


class Transient(Exception):
    """A retryable answer (429, 5xx): its status and the Retry-After it carried."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class Refused(DownloadError):
    """The hub's data cannot be the announced file: the partial data is deleted."""
