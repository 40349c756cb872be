"""Which container a process belongs to, from the text of ``/proc/PID/cgroup``.

Forms recognised (cgroup v1 lines ``N:controllers:/path``, v2 line ``0::/path``):

- docker, cgroupfs driver: ``/docker/<id>``
- docker, systemd driver: ``/system.slice/docker-<id>.scope``
- rootless docker: ``/user.slice/user-1000.slice/user@1000.service/.../docker-<id>.scope``
- podman, systemd: ``.../libpod-<id>.scope`` (also with a trailing ``/container`` sub-group)
- podman, cgroupfs: ``/libpod_parent/libpod-<id>``

``libpod-conmon-<id>.scope`` is podman's monitor process, not the container: skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID = r"[0-9a-f]{64}"
_PART = re.compile(rf"^(?:(docker|libpod)-)?({_ID})(?:\.scope)?$")


@dataclass(frozen=True)
class ContainerRef:
    """A container as its cgroup names it."""

    engine: str  # "docker" or "podman"
    container_id: str  # 64 hex digits


def _from_path(path: str) -> ContainerRef | None:
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts) - 1, -1, -1):
        m = _PART.match(parts[i])
        if m is None:
            continue
        prefix = m.group(1)
        if prefix is None:  # a bare id: only under a docker or libpod parent
            parent = parts[i - 1] if i else ""
            if parent == "docker":
                return ContainerRef("docker", m.group(2))
            if parent.startswith("libpod"):
                return ContainerRef("podman", m.group(2))
            continue
        return ContainerRef("docker" if prefix == "docker" else "podman", m.group(2))
    return None


def container_of(cgroup_text: str) -> ContainerRef | None:
    """The container a process runs in, or None for a host process (or unreadable text).
    The v2 line wins over v1 lines; among v1 lines the first that names a container."""
    v1: ContainerRef | None = None
    for line in cgroup_text.splitlines():
        hierarchy, sep, rest = line.partition(":")
        controllers, sep2, path = rest.partition(":")
        if not (sep and sep2):
            continue
        ref = _from_path(path.strip())
        if hierarchy == "0" and controllers == "":
            if ref is not None:
                return ref
        elif v1 is None:
            v1 = ref
    return v1
