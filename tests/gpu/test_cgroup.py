"""PID -> container from /proc/PID/cgroup: every engine's path form, and real containers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.gpu.cgroup import ContainerRef, container_of
from tests.gpu.conftest import host_pids

ID = "a4126d171220c2e2726e6ba0b09a3d66c264b22e7f8d0a97f614f58e377484b5"


@pytest.mark.parametrize(
    ("text", "engine"),
    [
        # docker, cgroup v1, cgroupfs driver (as this host's engine writes it)
        (f"12:memory:/docker/{ID}\n11:cpu,cpuacct:/docker/{ID}\n0::/docker/{ID}\n", "docker"),
        (f"4:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n", "docker"),
        # docker, cgroup v2, systemd driver
        (f"0::/system.slice/docker-{ID}.scope\n", "docker"),
        # rootless docker under the user's systemd
        (
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
            f"docker.service/docker/{ID}\n",
            "docker",
        ),
        (
            f"0::/user.slice/user-1000.slice/user@1000.service/user.slice/docker-{ID}.scope\n",
            "docker",
        ),
        # podman, rootless v2 (with and without the init sub-group)
        (
            f"0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope\n",
            "podman",
        ),
        (f"0::/machine.slice/libpod-{ID}.scope/container\n", "podman"),
        # podman, cgroupfs manager (v1 lines)
        (f"5:memory:/libpod_parent/libpod-{ID}\n3:pids:/libpod_parent/libpod-{ID}\n", "podman"),
    ],
)
def test_forms(text: str, engine: str) -> None:
    assert container_of(text) == ContainerRef(engine, ID)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0::/\n",
        "0::/user.slice/user-1000.slice/session-2.scope\n",
        # podman's monitor, not the container
        f"0::/machine.slice/libpod-conmon-{ID}.scope\n",
        # a 64-hex name under an unknown parent is not taken for a container
        f"0::/some.slice/{ID}\n",
        "garbage\n\x00::::\n",
        f"0::/docker/{ID[:-1]}\n",  # 63 digits
    ],
)
def test_not_a_container(text: str) -> None:
    assert container_of(text) is None


def test_v2_line_wins_over_v1() -> None:
    other = "b" * 64
    text = f"4:memory:/docker/{other}\n0::/system.slice/docker-{ID}.scope\n"
    assert container_of(text) == ContainerRef("docker", ID)


def test_real_containers_on_this_engine(sleeper: Callable[..., Any]) -> None:
    """Each process of two real containers (forked children too) maps to its own container;
    this test process maps to none."""
    a, b = sleeper(), sleeper("sleep 300")
    for c, n in ((a, 2), (b, 1)):
        for pid in host_pids(c, at_least=n):
            text = Path(f"/proc/{pid}/cgroup").read_text()
            ref = container_of(text)
            assert ref == ContainerRef("docker", c.id), text
    assert container_of(Path(f"/proc/{os.getpid()}/cgroup").read_text()) is None
