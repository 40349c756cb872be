"""Builders for the recorded sysfs trees (``fixtures/sysfs/*.tree``) and /proc trees."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def fdinfo_text(name: str) -> str:
    """One recorded fdinfo file."""
    return (FIXTURES / "fdinfo" / f"{name}.txt").read_text(encoding="utf-8", errors="replace")


def build_sysfs(root: Path, *names: str) -> Path:
    """Materialise trees under ``root`` (the sys root) and return it.

    Lines: ``@var path`` names a directory; ``path = value`` writes a file (``<unreadable>``
    makes a directory, which fails to read like an EIO attribute); ``path -> target`` makes a
    link; ``minor $var NAME`` makes a DRM minor of that PCI device with its class link.
    """
    for name in names:
        vars_: dict[str, str] = {}
        for raw in (FIXTURES / "sysfs" / f"{name}.tree").read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("@"):
                var, _, path = line[1:].partition(" ")
                vars_[var] = path.strip()
                continue
            for var, path in sorted(vars_.items(), key=lambda kv: -len(kv[0])):
                line = line.replace(f"${var}", path)
            if line.startswith("minor "):
                _, pci, minor = line.split()
                slot = pci.rsplit("/", 1)[1]
                node = root / pci / "drm" / minor
                node.mkdir(parents=True, exist_ok=True)
                os.symlink(f"../../../{slot}", node / "device")
                (root / "class/drm").mkdir(parents=True, exist_ok=True)
                os.symlink(f"../../{pci}/drm/{minor}", root / "class/drm" / minor)
            elif " -> " in line:
                path, _, target = line.partition(" -> ")
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                os.symlink(target, root / path)
            else:
                path, _, value = line.partition(" = ")
                dest = root / path
                if value == "<unreadable>":
                    dest.mkdir(parents=True)
                else:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_text(value + "\n")
    return root


DOCKER_ID = "a4126d171220c2e2726e6ba0b09a3d66c264b22e7f8d0a97f614f58e377484b5"
OTHER_ID = "5f0e3c1bd8a04b77aa9d2b8c5b0a7d2e9c4f1a3b6d8e0f2a4c6e8b0d2f4a6c8e"


def docker_cgroup(container_id: str) -> str:
    """A cgroup v2 file of a process in a docker container (systemd driver)."""
    return f"0::/system.slice/docker-{container_id}.scope\n"


@dataclass
class FakeProc:
    """One /proc/PID directory: its cgroup, comm and fds (fd -> (link target, fdinfo text))."""

    pid: int
    cgroup: str = "0::/user.slice/user-1000.slice/session-2.scope\n"
    comm: str = "proc"
    fds: dict[int, tuple[str, str]] = field(default_factory=dict)
    no_fd_dir: bool = False


def build_proc(root: Path, procs: list[FakeProc]) -> Path:
    """A /proc tree with those processes (and a ``self`` link, as the real one has)."""
    root.mkdir(parents=True, exist_ok=True)
    for p in procs:
        d = root / str(p.pid)
        d.mkdir()
        (d / "cgroup").write_text(p.cgroup)
        (d / "comm").write_text(p.comm + "\n")
        if p.no_fd_dir:
            continue
        (d / "fd").mkdir()
        (d / "fdinfo").mkdir()
        for fd, (target, text) in p.fds.items():
            os.symlink(target, d / "fd" / str(fd))
            (d / "fdinfo" / str(fd)).write_text(text)
    os.symlink(str(procs[0].pid) if procs else "1", root / "self")
    return root


def amd_two_apps(tmp_path: Path, second_comm: str = "comfyui") -> tuple[Path, Path]:
    """An RX 7900 XTX with two containers holding memory on it (pids 50 and 60), and an RX 6600
    asleep: the (sys root, proc root) most GPU tests start from."""
    sys_root = build_sysfs(tmp_path / "sys", "amdgpu-rx7900xtx", "amdgpu-asleep")
    proc = build_proc(
        tmp_path / "proc",
        [
            FakeProc(
                50,
                docker_cgroup(DOCKER_ID),
                "llama-server",
                {3: ("/dev/dri/renderD128", fdinfo_text("amdgpu-6.11"))},
            ),
            FakeProc(
                60,
                docker_cgroup(OTHER_ID),
                second_comm,
                {3: ("/dev/dri/renderD128", fdinfo_text("amdgpu-legacy"))},
            ),
        ],
    )
    return sys_root, proc


_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event in ("open", "os.listdir", "os.scandir") and args:
        _opened.append(str(args[0]))


# One hook for the whole session (audit hooks cannot be removed): it records only while asked.
sys.addaudithook(_audit)


@contextmanager
def paths_opened() -> Iterator[list[str]]:
    """Every path opened or listed (any thread) inside the block, seen by a Python audit hook."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None
