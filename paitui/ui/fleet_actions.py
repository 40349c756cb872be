"""The one way the UI runs a lifecycle call of the fleet (launch, start, stop, restart, remove).

Each call runs as a worker named for what it does ("stop Llama"), so a failure reaches the user
through :mod:`paitui.ui.failures` as "Could not stop Llama" with the engine's reason.
"""

from __future__ import annotations

from collections.abc import Awaitable

from textual.dom import DOMNode
from textual.worker import Worker


def run_fleet_action(
    node: DOMNode, what: str, call: Awaitable[object], *, announce: str | None = None
) -> Worker[object]:
    """Run ``call`` (a fleet coroutine) as a worker of ``node`` named ``what``.

    ``announce`` is said at once ("Stopping llama…"): the engine may take seconds to answer."""
    if announce:
        node.app.notify(announce, timeout=3)
    return node.run_worker(call, name=what, group="fleet-actions", exit_on_error=False)
