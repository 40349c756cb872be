"""Which processes hold DRM clients, from ``/proc`` (injectable root), and their containers.

``/proc/PID/cgroup`` is world-readable, so every process maps to its container cheaply; listing
``/proc/PID/fd`` and reading ``fdinfo`` need ptrace read rights on the process (same user, or
CAP_SYS_PTRACE), so other users' processes come back in ``unreadable``. Only fds on DRM nodes
(``/dev/dri/card*``, ``renderD*``) are read, and never those on a suspended GPU: some drivers
(xe's cycle counters) resume the device to answer fdinfo.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from paitui.domain.gpu.cgroup import ContainerRef, container_of
from paitui.domain.gpu.fdinfo import DrmClient, parse_fdinfo
from paitui.domain.gpu.usage import ProcessGpu

DRM_MAJOR = 226
_NODE = re.compile(r"^/dev/dri/(card|renderD)(\d+)$")


@dataclass
class ScanResult:
    """What one pass over ``/proc`` found."""

    processes: list[ProcessGpu] = field(default_factory=list)
    #: Container PIDs whose fds could not be read (no ptrace rights).
    unreadable: list[int] = field(default_factory=list)
    #: Host PIDs whose fds could not be read (counted, not listed: there are many).
    unreadable_host: int = 0
    #: PIDs that exited while being read.
    vanished: int = 0
    pids_seen: int = 0
    fds_read: int = 0
    #: Every PID's container (None: host), read from its cgroup file.
    containers: dict[int, ContainerRef | None] = field(default_factory=dict)


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return ""


def drm_minor(fd_path: Path, target: str) -> int | None:
    """The DRM minor an fd is open on: from the device number when it can be stat'ed (right
    whatever name the container gave the node), else from the link's name."""
    try:
        st = os.stat(fd_path)
        if stat.S_ISCHR(st.st_mode):
            return os.minor(st.st_rdev) if os.major(st.st_rdev) == DRM_MAJOR else None
    except OSError:
        pass
    m = _NODE.match(target)
    return int(m.group(2)) if m else None


def _clients(
    proc: Path, pid: int, skip: Collection[int], result: ScanResult
) -> list[DrmClient] | None:
    """The DRM clients of one process; None when its fds are not readable."""
    fd_dir = proc / "fd"
    try:
        fds = os.listdir(fd_dir)
    except PermissionError:
        return None
    except OSError:  # gone
        result.vanished += 1
        return []
    clients = []
    for fd in fds:
        try:
            target = os.readlink(fd_dir / fd)
        except PermissionError:
            return None
        except OSError:  # the fd was closed meanwhile
            continue
        if not target.startswith("/dev/dri/"):  # DRM nodes keep that folder in containers
            continue
        minor = drm_minor(fd_dir / fd, target)
        if minor is None or minor in skip:
            continue
        text = _text(proc / "fdinfo" / fd)
        if not text:
            continue
        result.fds_read += 1
        client = parse_fdinfo(text, pid)
        if client is not None:
            clients.append(client)
    return clients


#: A process's container, remembered between samples: reading every ``/proc/PID/cgroup`` is most
#: of a sample's cost (hundreds of processes), and a PID keeps its cgroup for its life.
CgroupCache = dict[int, ContainerRef | None]


def scan_proc(
    proc_root: Path,
    skip_minors: Collection[int] = (),
    containers_only: bool = False,
    pids: Collection[int] | None = None,
    cgroups: CgroupCache | None = None,
) -> ScanResult:
    """Every process (or just ``pids``) with DRM clients. ``skip_minors``: minors of asleep
    GPUs, never read. ``containers_only`` leaves host processes' fds alone (cheaper).

    ``cgroups``, when given, is read and kept up to date: a PID seen before is not read again,
    and PIDs gone from ``/proc`` are forgotten (a PID reused between two samples, seconds
    apart, would need the kernel to wrap its PID space in that time).
    """
    result = ScanResult()
    try:
        names = os.listdir(proc_root)
    except OSError:
        return result
    wanted = set(pids) if pids is not None else None
    live = sorted(int(n) for n in names if n.isdigit())
    if cgroups is not None:
        for gone in cgroups.keys() - set(live):
            del cgroups[gone]
    for pid in live:
        if wanted is not None and pid not in wanted:
            continue
        proc = proc_root / str(pid)
        if cgroups is not None and pid in cgroups:
            container = cgroups[pid]
        else:
            cgroup = _text(proc / "cgroup")
            if cgroup is None:
                result.vanished += 1
                continue
            container = container_of(cgroup)
            if cgroups is not None:
                cgroups[pid] = container
        result.pids_seen += 1
        result.containers[pid] = container
        if container is None and containers_only:
            continue
        clients = _clients(proc, pid, skip_minors, result)
        if clients is None:
            if container is not None:
                result.unreadable.append(pid)
            else:
                result.unreadable_host += 1
            continue
        if clients:
            comm = (_text(proc / "comm") or "").strip()
            result.processes.append(ProcessGpu(pid, comm, container, tuple(clients)))
    return result
