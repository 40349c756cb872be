"""The /proc scanner on built trees and the real /proc: containers, dedupe, rights, races."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.gpu.usage import app_usages
from paitui.services.gpu.procscan import scan_proc
from tests.gpu.conftest import host_pids
from tests.gpu.trees import DOCKER_ID, OTHER_ID, FakeProc, build_proc, docker_cgroup, fdinfo_text

REPO = Path(__file__).resolve().parents[2]


def _two_apps(root: Path) -> Path:
    amd = fdinfo_text("amdgpu-6.11")
    return build_proc(
        root,
        [
            # llama-server and a forked worker sharing one DRM client through an inherited fd
            FakeProc(
                100, docker_cgroup(DOCKER_ID), "llama-server", {3: ("/dev/dri/renderD128", amd)}
            ),
            FakeProc(101, docker_cgroup(DOCKER_ID), "worker", {5: ("/dev/dri/renderD128", amd)}),
            FakeProc(
                200,
                docker_cgroup(OTHER_ID),
                "comfyui",
                {
                    4: ("/dev/dri/renderD128", fdinfo_text("amdgpu-legacy")),
                    5: (
                        "/dev/dri/renderD129",
                        fdinfo_text("amdgpu-legacy").replace("03:00", "05:00"),
                    ),
                    6: ("/dev/null", "pos:\t0\n"),
                    7: ("socket:[123]", ""),
                },
            ),
            FakeProc(300, comm="Xorg", fds={9: ("/dev/dri/card1", fdinfo_text("not-drm"))}),
        ],
    )


def test_sums_per_container_counting_each_client_once(tmp_path: Path) -> None:
    scan = scan_proc(_two_apps(tmp_path / "proc"))
    assert [p.pid for p in scan.processes] == [100, 101, 200]
    apps = app_usages(scan.processes)
    by = {(a.gpu, a.container_id): a for a in apps}
    llama = by[("0000:03:00.0", DOCKER_ID)]
    assert (llama.vram_bytes, llama.clients, llama.pids) == (8450 * 1024**2, 1, (100,))
    comfy = by[("0000:03:00.0", OTHER_ID)]
    assert comfy.vram_bytes == 3145728 * 1024 and by[("0000:05:00.0", OTHER_ID)].clients == 1
    assert scan.containers[300] is None and not scan.unreadable


def test_asleep_minors_are_not_read(tmp_path: Path) -> None:
    scan = scan_proc(_two_apps(tmp_path / "proc"), skip_minors={129})
    gpus = {a.gpu for a in app_usages(scan.processes)}
    assert gpus == {"0000:03:00.0"}


def test_containers_only_and_pid_filter(tmp_path: Path) -> None:
    root = _two_apps(tmp_path / "proc")
    only = scan_proc(root, containers_only=True)
    assert 300 in only.containers and only.fds_read == 4
    assert [p.pid for p in scan_proc(root, pids=[200]).processes] == [200]


def test_missing_files_and_garbage(tmp_path: Path) -> None:
    root = build_proc(
        tmp_path / "proc",
        [
            FakeProc(10, docker_cgroup(DOCKER_ID), no_fd_dir=True),  # exited between reads
            FakeProc(11, "\x00garbage", fds={3: ("/dev/dri/renderD128", fdinfo_text("garbage"))}),
            FakeProc(12, fds={3: ("/dev/dri/renderD128", "")}),  # empty fdinfo
        ],
    )
    (root / "13").mkdir()  # no cgroup file: gone
    (root / "notapid").mkdir()
    scan = scan_proc(root)
    assert scan.processes == [] and scan.vanished == 2 and scan.pids_seen == 3
    assert scan_proc(tmp_path / "no-proc").pids_seen == 0


def test_real_proc_a_vanished_pid_is_counted_not_raised() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    scan = scan_proc(Path("/proc"), pids=[child.pid, os.getpid()])
    assert child.pid not in scan.containers and os.getpid() in scan.containers


def _scan_as(uid: int, pids: list[int]) -> dict[str, Any]:
    """scan_proc in a child process running as ``uid`` (no ptrace rights over root's)."""
    code = (
        "import json,sys;from pathlib import Path;"
        "from paitui.services.gpu.procscan import scan_proc;"
        f"r=scan_proc(Path('/proc'),pids={pids!r});"
        "print(json.dumps({'unreadable':r.unreadable,'seen':r.pids_seen,"
        "'containers':{str(k):(v.container_id if v else None) for k,v in r.containers.items()}}))"
    )
    out = subprocess.run(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=True,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a reader as another uid")
def test_other_users_container_is_unreadable_but_mapped(sleeper: Callable[..., Any]) -> None:
    """A reader without ptrace rights still maps PIDs to containers (cgroup is world-readable)
    and reports the container's PIDs as unreadable instead of failing or guessing 0."""
    c = sleeper("sleep 300")
    (pid,) = host_pids(c)
    got = _scan_as(65534, [pid])
    assert got["containers"] == {str(pid): c.id}
    assert got["unreadable"] == [pid]
    # The same scan as root reads it (and finds no DRM client in a sleeping busybox).
    mine = scan_proc(Path("/proc"), pids=[pid])
    assert mine.unreadable == [] and mine.processes == []


def test_a_cgroup_cache_reads_each_pid_once_and_forgets_the_gone(tmp_path: Path) -> None:
    """With a cache, a PID's cgroup file is read once; a PID gone from /proc is forgotten."""
    proc = _two_apps(tmp_path / "proc")
    cache: dict[int, Any] = {}
    first = scan_proc(proc, cgroups=cache)
    assert set(cache) == {100, 101, 200, 300}
    assert cache[100] is not None and cache[100].container_id == DOCKER_ID and cache[300] is None
    # The cached answer is used: a cgroup file changed under a known PID is not read again ...
    (proc / "100" / "cgroup").write_text(docker_cgroup(OTHER_ID))
    again = scan_proc(proc, cgroups=cache)
    assert again.containers == first.containers
    assert [p.pid for p in again.processes] == [p.pid for p in first.processes]
    # ... while without the cache it is, and a PID that left /proc leaves the cache.
    fresh = scan_proc(proc)
    fresh_100 = fresh.containers[100]
    assert fresh_100 is not None and fresh_100.container_id == OTHER_ID
    for f in sorted((proc / "101").rglob("*"), reverse=True):
        f.unlink() if f.is_file() or f.is_symlink() else f.rmdir()
    (proc / "101").rmdir()
    scan_proc(proc, cgroups=cache)
    assert set(cache) == {100, 200, 300}
