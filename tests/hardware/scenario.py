"""Building blocks for hardware scenarios: a fake host root, injected Docker facts, running
``paitui hw --json`` under umockdev, and the expected report pieces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTBEDS = Path(__file__).resolve().parent / "testbeds"

DESKTOP_GROUPS = "root:x:0:\nvideo:x:44:alice\nrender:x:105:alice\nalice:x:1000:\n"
ALICE = "1000:1000,44,105:alice"
KERNEL = "6.1.0-28-amd64"
#: /proc/meminfo of the fake host (the head of a real one, 16 GiB box), and the RAM it gives.
MEMINFO = "MemTotal:       16318464 kB\nMemFree:         1210980 kB\nMemAvailable:    9800000 kB\n"
RAM_BYTES = 16318464 * 1024
DOCKER_INFO = {
    "ServerVersion": "20.10.24+dfsg1",
    "SecurityOptions": ["name=apparmor", "name=seccomp,profile=default", "name=cgroupns"],
    "Runtimes": {"io.containerd.runc.v2": {"path": "runc"}, "runc": {"path": "runc"}},
}
NVIDIA_RUNTIME = {**DOCKER_INFO["Runtimes"], "nvidia": {"path": "nvidia-container-runtime"}}  # type: ignore[dict-item]
CDI_SPEC = """cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
  - name: all
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
"""


def need_umockdev() -> None:
    """Fail under CI, skip on a developer machine, when umockdev-run is missing."""
    if shutil.which("umockdev-run") is None:
        message = "umockdev-run not installed (run: scripts/test-env.sh up)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@dataclass
class Host:
    """A fake host root: group database, device nodes, WSL, CDI, Vulkan ICDs, kernel."""

    root: Path
    groups: str = DESKTOP_GROUPS
    identity: str = ALICE
    kernel: str = KERNEL
    dev_nodes: tuple[str, ...] = ()
    icds: tuple[str, ...] = ("radeon_icd.x86_64.json", "intel_icd.x86_64.json")
    cdi: dict[str, str] = field(default_factory=dict)
    wsl: bool = False
    #: {"info": ...} / {"error": ...}; None leaves Docker out ("off").
    docker: dict[str, Any] | None = field(default_factory=lambda: {"info": DOCKER_INFO})

    def build(self) -> dict[str, str]:
        """Write the tree; return the environment that points paitui at it."""
        (self.root / "etc").mkdir(parents=True, exist_ok=True)
        (self.root / "etc/group").write_text(self.groups)
        (self.root / "proc/sys/kernel").mkdir(parents=True, exist_ok=True)
        (self.root / "proc/sys/kernel/osrelease").write_text(self.kernel + "\n")
        (self.root / "proc/meminfo").write_text(MEMINFO)
        (self.root / "dev").mkdir(exist_ok=True)
        for node in self.dev_nodes:
            (self.root / "dev" / node).touch()
        icd_dir = self.root / "usr/share/vulkan/icd.d"
        icd_dir.mkdir(parents=True, exist_ok=True)
        for icd in self.icds:
            (icd_dir / icd).write_text('{"file_format_version": "1.0.0"}')
        for name, text in self.cdi.items():
            (self.root / "etc/cdi").mkdir(parents=True, exist_ok=True)
            (self.root / "etc/cdi" / name).write_text(text)
        if self.wsl:
            (self.root / "usr/lib/wsl/lib").mkdir(parents=True, exist_ok=True)
        env = {
            "PAITUI_HW_ROOT": str(self.root),
            "PAITUI_HW_IDENTITY": self.identity,
            "PAITUI_HW_NVML": "off",
            "PAITUI_GPU_LIVE": "off",  # the recorded reports predate live GPU use (tests/gpu)
            "PAITUI_MODELS_DIR": str(self.root / "models"),
        }
        if self.docker is None:
            env["PAITUI_HW_DOCKER"] = "off"
        else:
            path = self.root.parent / "docker-info.json"
            path.write_text(json.dumps({"api_version": "1.41", **self.docker}))
            env["PAITUI_HW_DOCKER"] = str(path)
        return env

    def path(self, rel: str) -> str:
        return str(self.root / rel)


def run_hw(testbed: str | None, env: dict[str, str], *args: str) -> dict[str, Any]:
    """``paitui hw --json`` as its own process under ``umockdev-run`` with this testbed."""
    need_umockdev()
    cmd = ["umockdev-run"]
    if testbed:
        cmd += ["-d", str(TESTBEDS / f"{testbed}.umockdev")]
    cmd += ["--", sys.executable, "-m", "paitui", "hw", "--json", *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAITUI_HW_")}
    proc = subprocess.run(
        cmd, env={**clean, **env}, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def settle_disk(report: dict[str, Any], host: Host) -> dict[str, Any]:
    """Free disk depends on this machine: check it, then blank it (and its low-disk finding)."""
    free = report["models_free_bytes"]
    assert isinstance(free, int) and free >= 0
    assert report["models_dir"] == str(host.root)  # models/ does not exist: nearest parent
    low = [f for f in report["findings"] if f["code"] == "low-disk"]
    assert bool(low) == (free < 20 * 1024**3)
    return {
        **report,
        "models_free_bytes": None,
        "findings": [f for f in report["findings"] if f["code"] != "low-disk"],
    }


def gpu(
    vendor: str,
    pci_id: str,
    slot: str,
    name: str,
    driver: str | None,
    card: int,
    render: int | None,
    *,
    model: str | None,
    vendor_name: str | None,
    boot_vga: bool,
    vram: tuple[int, int] | None = None,
    integrated: bool = False,
    card_access: bool = True,
    render_access: bool = True,
    display_only: bool = False,
) -> dict[str, Any]:
    """One GPU as ``to_json`` writes it."""
    return {
        "vendor": vendor,
        "pci_id": pci_id,
        "pci_slot": slot,
        "name": name,
        "driver": driver,
        "card_node": f"/dev/dri/card{card}",
        "render_node": f"/dev/dri/renderD{render}" if render is not None else None,
        "card_access": card_access,
        "render_access": render_access if render is not None else False,
        "integrated": integrated,
        "boot_vga": boot_vga,
        "vram_total": vram[0] if vram else None,
        "vram_used": vram[1] if vram else None,
        "is_display_only": display_only,
        "model": model,
        "vendor_name": vendor_name,
        "via": [],
    }


AMD_DB = "Advanced Micro Devices, Inc. [AMD/ATI]"


def rx5500(**kw: Any) -> dict[str, Any]:
    return gpu(
        "amd",
        "1002:7340",
        "0000:03:00.0",
        "AMD Radeon RX 5500/5500M / Pro 5500M",
        "amdgpu",
        0,
        128,
        model="Navi 14 [Radeon RX 5500/5500M / Pro 5500M]",
        vendor_name=AMD_DB,
        boot_vga=True,
        vram=(8573157376, 1073741824),
        **kw,
    )


def rx7900(slot: str, card: int, render: int, boot_vga: bool) -> dict[str, Any]:
    return gpu(
        "amd",
        "1002:744c",
        slot,
        "AMD Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M",
        "amdgpu",
        card,
        render,
        model="Navi 31 [Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M]",
        vendor_name=AMD_DB,
        boot_vga=boot_vga,
        vram=(25753026560, 536870912),
    )


def uhd770(card: int, render: int) -> dict[str, Any]:
    return gpu(
        "intel",
        "8086:4680",
        "0000:00:02.0",
        "Intel UHD Graphics 770",
        "i915",
        card,
        render,
        model="AlderLake-S GT1 [UHD Graphics 770]",
        vendor_name="Intel Corporation",
        boot_vga=False,
        integrated=True,
    )


def rtx4090(slot: str, card: int, render: int) -> dict[str, Any]:
    return gpu(
        "nvidia",
        "10de:2684",
        slot,
        "NVIDIA GeForce RTX 4090",
        "nvidia",
        card,
        render,
        model="AD102 [GeForce RTX 4090]",
        vendor_name="NVIDIA Corporation",
        boot_vga=True,
    )


NO = {
    "cuda": "no NVIDIA GPU",
    "rocm": "no AMD GPU on the amdgpu driver",
    "intel": "no Intel GPU",
    "vulkan": "no AMD (amdgpu) or Intel (i915/xe) GPU",
}


def accels(**given: list[str] | str) -> list[dict[str, Any]]:
    """All five verdicts: given ones as usable with these reasons (or a str = unusable reason)."""
    out = []
    for accel in ("cuda", "rocm", "intel", "vulkan", "cpu"):
        if accel == "cpu":
            out.append({"accel": "cpu", "usable": True, "reasons": ["always available"]})
        elif accel in given and isinstance(given[accel], list):
            out.append({"accel": accel, "usable": True, "reasons": given[accel]})
        else:
            reason = given.get(accel, NO[accel])
            out.append({"accel": accel, "usable": False, "reasons": [reason]})
    return out


def docker_json(
    *, nvidia_runtime: bool = False, cdi: tuple[str, ...] = (), version: str = "20.10.24+dfsg1"
) -> dict[str, Any]:
    return {
        "reachable": True,
        "error": None,
        "version": version,
        "api_version": "1.41",
        "rootless": False,
        "nvidia_runtime": nvidia_runtime,
        "cdi_specs": list(cdi),
        "host": None,
        "nvidia_cdi": list(cdi),
        "engine": "Docker",  # the injected answers name no "Podman Engine" component
        "default_runtime": None,
    }


def base_report(host: Host, **overrides: Any) -> dict[str, Any]:
    """The host part of a report for the desktop host (alice in render and video)."""
    report: dict[str, Any] = {
        "gpus": [],
        "accels": accels(),
        "ranking": ["cpu"],
        "findings": [],
        "render_gid": 105,
        "video_gid": 44,
        "user_in_render": True,
        "user_in_video": True,
        "kfd_present": False,
        "kfd_access": False,
        "nvidia_nodes": [],
        "wsl2": False,
        "kernel": KERNEL,
        "vulkan_icds": [host.path(f"usr/share/vulkan/icd.d/{i}") for i in sorted(host.icds)],
        "docker": docker_json(),
        "models_free_bytes": None,
        "ram_bytes": RAM_BYTES,
        "source": "udev",
        "source_note": None,
        "user": "alice",
        "uid": 1000,
        "groups_pending": [],
        "models_dir": str(host.root),
        "extra": {},
    }
    report.update(overrides)
    return report


def finding(severity: str, code: str, message: str, fix: str | None = None) -> dict[str, Any]:
    return {"severity": severity, "code": code, "message": message, "fix": fix}
