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
    """An error in a user's words: what went wrong and on which file, never a bare class name."""
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    text = str(error).strip()
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
            failure_text(error) + "\nThe log has the details.",
            title=f"Could not {what}",
            severity="error",
            timeout=12,
        )
