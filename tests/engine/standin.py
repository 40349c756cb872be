"""A catalog app's plan played by busybox: its mounts, user, env and working dir, nothing else."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from paitui.domain.launch.plan import LaunchPlan
from paitui.services.engine.create import create_kwargs


def stand_in_plan(
    plan: LaunchPlan,
    image: str,
    *,
    entrypoint: tuple[str, ...],
    command: tuple[str, ...] | None,
    user: str | None,
    label: str,
) -> LaunchPlan:
    """The plan on ``image`` running ``entrypoint``/``command``: no devices, ports or GPU runtime
    (a busybox stand-in needs none), a test label instead of paitui's, no restart."""
    return dataclasses.replace(
        plan,
        name=f"paitest-{label}-{uuid.uuid4().hex[:8]}",
        image=image,
        entrypoint=entrypoint,
        command=command,
        user=user,
        devices=(),
        device_requests=(),
        group_add=(),
        privileged=False,
        security_opt=(),
        cap_add=(),
        ports=(),
        labels={"paitest": label},
        restart_policy="no",
    )


def run_to_end(docker_client: Any, plan: LaunchPlan) -> str:
    """Create and run the plan's container, assert it exits 0, remove it; its output."""
    container = docker_client.containers.create(plan.image, **create_kwargs(plan))
    try:
        container.start()
        code = container.wait(timeout=60)["StatusCode"]
        out: str = container.logs().decode()
        assert code == 0, out
        return out
    finally:
        container.remove(force=True)
