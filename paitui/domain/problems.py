"""One shape for a failure a user must act on: what happened, and what to do about it."""

from __future__ import annotations


class Problem(Exception):
    """A readable ``message`` and, when there is one, the ``fix``; ``str()`` shows both."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message
