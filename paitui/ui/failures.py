"""One way to fail: every worker that ends in an error becomes a notification.

``Worker.StateChanged`` goes to the node that started the worker and does not bubble, so the
app and every screen mix in :class:`ReportsWorkerFailures`. Workers are named as what they do
("read the installed models"), which makes the title "Could not read the installed models".
Local handlers stay only where they add context (which app, what to do next).
"""

from __future__ import annotations

import logging

from textual.worker import Worker, WorkerState

log = logging.getLogger(__name__)


def failure_text(error: BaseException) -> str:
    """An error in a user's words: what went wrong and on which file.

    paitui's own errors are written for users and shown as they are; a bare library error
    (``KeyError: 'repo'``) keeps its kind, since its message alone says little."""
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    text = str(error).strip()
    if type(error).__module__.startswith("paitui.") and text:
        return text
    kind = type(error).__name__
    return f"{kind}: {text}" if text and kind not in text else text or kind


class ReportsWorkerFailures:
    """Mixin: a failed worker of this node is shown to the user; its traceback goes to the log."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        error = worker.error
        if event.state != WorkerState.ERROR or error is None:
            return
        what = worker.name or "finish a task"
        log.error("worker %r failed", what, exc_info=error)
        worker.node.app.notify(
            failure_text(error),
            title=f"Could not {what}",
            severity="error",
            timeout=12,
        )
