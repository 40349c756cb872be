"""``paitui hw --json`` and ``paitui ls [--json]`` with live GPU use: real CLI processes, recorded
sysfs/proc trees (through PAITUI_GPU_*_ROOT), and a real managed container for ``ls``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.gpu.trees import FakeProc, build_proc, build_sysfs, docker_cgroup, fdinfo_text
from tests.helpers import free_port
from tests.status.standins import remove_containers, write_catalog

REPO = Path(__file__).resolve().parents[2]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        text=True,
        capture_output=True,
        timeout=90,
    )


def test_hw_json_and_text(tmp_path: Path) -> None:
    sys_root = build_sysfs(tmp_path / "root" / "sys", "amdgpu-rx7900xtx", "amdgpu-asleep")
    cid = "c" * 64
    proc = build_proc(
        tmp_path / "proc",
        [
            FakeProc(
                5,
                docker_cgroup(cid),
                "llama",
                {3: ("/dev/dri/renderD128", fdinfo_text("amdgpu-6.11"))},
            )
        ],
    )
    env = {
        "PAITUI_HW_ROOT": str(tmp_path / "root"),
        "PAITUI_HW_UDEV": "off",
        "PAITUI_HW_DOCKER": "off",
        "PAITUI_HW_NVML": "off",
        "PAITUI_GPU_SYS_ROOT": str(sys_root),
        "PAITUI_GPU_PROC_ROOT": str(proc),
        "PAITUI_GPU_HELPER": "off",
    }
    out = _run(env, "hw", "--json")
    assert out.returncode == 0, out.stderr
    gpus = {g["pci_slot"]: g for g in json.loads(out.stdout)["gpus"]}
    awake, asleep = gpus["0000:03:00.0"], gpus["0000:05:00.0"]
    assert (awake["memory_used"], awake["memory_total"], awake["busy_percent"]) == (
        4123017216,
        25753026560,
        37,
    )
    assert awake["asleep"] is False and awake["apps"][0]["container_id"] == cid
    assert awake["apps"][0]["vram_bytes"] == 8450 * 1024**2
    assert asleep["asleep"] is True and asleep["memory_used"] is None
    assert "asleep" in asleep["usage_unknown"]["memory_used"]
    text = _run(env, "hw")
    assert text.returncode == 0, text.stderr
    live = text.stdout.split("Live GPU use:")[1]
    assert "VRAM 3.8G of 24.0G, busy 37 %; cccccccccccc 8.3G" in live
    assert "asleep (not woken to read it)" in live
    off = _run({**env, "PAITUI_GPU_LIVE": "off"}, "hw", "--json")
    assert "memory_used" not in json.loads(off.stdout)["gpus"][0]
    bad = _run({**env, "PAITUI_GPU_HELPER": "sudo"}, "hw", "--json")
    assert bad.returncode == 2 and "expected off, run or exec" in bad.stderr


@pytest.mark.docker
def test_ls_gives_each_running_app_its_gpu_memory(
    tmp_path: Path, test_label: str, busybox_image: str, docker_client: Any
) -> None:
    catalog = write_catalog(tmp_path, test_label, busybox_image, ready_after=0.5)
    env = {"PAITUI_CATALOG": str(catalog), "PAITUI_GPU_HELPER": "off"}
    app = f"slow-{test_label}"
    try:
        started = _run(env, "start", app, "--port", str(free_port()), "--json")
        assert started.returncode == 0, started.stderr
        cid = json.loads(started.stdout)["container_id"]
        # The app's process as the recorded trees show it: a DRM client on the xe GPU.
        sys_root = build_sysfs(tmp_path / "sys", "xe-b580")
        proc = build_proc(
            tmp_path / "proc",
            [
                FakeProc(
                    7, docker_cgroup(cid), "app", {3: ("/dev/dri/renderD128", fdinfo_text("xe"))}
                )
            ],
        )
        env.update(PAITUI_GPU_SYS_ROOT=str(sys_root), PAITUI_GPU_PROC_ROOT=str(proc))
        listed = _run(env, "ls", "--json")
        assert listed.returncode == 0, listed.stderr
        (row,) = [r for r in json.loads(listed.stdout) if r["app"] == app]
        assert row["gpu"] == [
            {
                "gpu": "0000:03:00.0",
                "vram_bytes": 2048 * 1024**2,
                "system_bytes": 192 * 1024,
                "source": "fdinfo",
            }
        ]
        assert row["gpu_unknown"] is None
        table = _run(env, "ls")
        (line,) = [x for x in table.stdout.splitlines() if x.startswith(app)]
        assert line.split()[3] == "2.0G"
        # The real /proc: the busybox stand-in holds no GPU memory.
        env.pop("PAITUI_GPU_PROC_ROOT")
        real = _run(env, "ls", "--json")
        (row,) = [r for r in json.loads(real.stdout) if r["app"] == app]
        assert row["gpu"] == [] and row["gpu_unknown"] is None
    finally:
        remove_containers(docker_client, test_label)
