"""Real containers for the GPU tests: busybox sleepers, removed afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def sleeper(
    docker_client: Any, busybox_image: str, test_label: str
) -> Iterator[Callable[..., Any]]:
    """Start a busybox container (``sh -c SCRIPT``, default two sleeps) and give it back."""
    started: list[Any] = []

    def start(script: str = "sleep 300 & sleep 300", **kwargs: Any) -> Any:
        c = docker_client.containers.run(
            busybox_image,
            ["sh", "-c", script],
            detach=True,
            labels={"paitest": test_label},
            **kwargs,
        )
        started.append(c)
        c.reload()
        return c

    yield start
    for c in started:
        c.remove(force=True)


def host_pids(container: Any, at_least: int = 1) -> list[int]:
    """The container's processes as host PIDs (``docker top``), once ``at_least`` run."""
    from tests.helpers import wait_until

    def pids() -> list[int]:
        top = container.top()
        col = top["Titles"].index("PID")
        found = sorted(int(row[col]) for row in top["Processes"])
        return found if len(found) >= at_least else []

    return wait_until(pids, timeout=10, what=f"{at_least} processes in {container.name}")
