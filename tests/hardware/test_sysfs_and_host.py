"""The sysfs fallback, host facts and JSON shape, through injectable roots (in process)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from paitui.cli.main import main
from paitui.domain.hardware.accel import Accel
from paitui.services.hardware.detect import DetectOptions, detect_hardware, detect_options_from_env
from paitui.services.hardware.host import HostEnv, Identity
from paitui.settings import Settings
from tests.hardware.sysfs_tree import workstation

ALICE = Identity.parse("1000:1000,44,105:alice")


def options(root: Path, identity: Identity = ALICE, use_udev: bool = False) -> DetectOptions:
    host = HostEnv(root=root, identity=identity, identity_injected=True)
    return DetectOptions(host=host, docker="off", use_udev=use_udev, use_nvml=False)


def test_sysfs_fallback_reads_class_drm(tmp_path: Path) -> None:
    workstation(tmp_path)
    report = detect_hardware(Settings(models_dir=tmp_path / "models"), options(tmp_path))
    assert report.source == "sysfs"
    assert report.source_note == "disabled by PAITUI_HW_UDEV=off"
    amd, odd = report.gpus  # simpledrm (platform device) and the connector are skipped
    assert (amd.vendor, amd.pci_id, amd.pci_slot, amd.name, amd.driver) == (
        "amd",
        "1002:7340",
        "0000:03:00.0",
        "AMD GPU 1002:7340",
        "amdgpu",
    )
    assert (amd.card_node, amd.render_node) == (
        str(tmp_path / "dev/dri/card0"),
        str(tmp_path / "dev/dri/renderD128"),
    )
    assert (amd.card_access, amd.render_access, amd.boot_vga, amd.integrated) == (
        True,
        True,
        True,
        False,
    )
    assert (amd.vram_total, amd.vram_used) == (8573157376, None)  # unreadable attribute
    # Unknown vendor, garbage device attribute: the uevent's PCI_ID fills in.
    assert (odd.vendor, odd.pci_id, odd.driver, odd.name, odd.render_node) == (
        "other",
        "abcd:????",
        None,
        "Display device abcd:????",
        None,
    )
    assert odd.is_display_only is False
    assert report.kfd_present and report.kfd_access
    assert (report.render_gid, report.video_gid, report.kernel) == (105, 44, "6.1.0-28-amd64")
    assert report.ranking == (Accel.ROCM, Accel.VULKAN, Accel.CPU)
    assert [(f.severity, f.code) for f in report.findings] == [
        ("info", "sysfs-fallback"),
        ("info", "unknown-gpu"),
    ] + ([("warning", "low-disk")] if report.models_free_bytes < 20 * 1024**3 else [])  # type: ignore[operator]


def test_fallback_when_pyudev_cannot_be_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workstation(tmp_path)
    monkeypatch.setitem(sys.modules, "pyudev", None)  # what a container without pyudev sees
    report = detect_hardware(Settings(), options(tmp_path, use_udev=True))
    assert report.source == "sysfs"
    assert report.source_note is not None and report.source_note.startswith(
        "pyudev is not installed"
    )
    assert "udev is unavailable (pyudev is not installed" in report.findings[0].message


def test_group_membership_and_access_follow_the_identity(tmp_path: Path) -> None:
    workstation(tmp_path)
    outsider = Identity.parse("1001:1001:bob")
    report = detect_hardware(Settings(), options(tmp_path, outsider))
    amd = report.gpus[0]
    assert (report.user, report.uid, report.user_in_render, report.user_in_video) == (
        "bob",
        1001,
        False,
        False,
    )
    assert (amd.card_access, amd.render_access, report.kfd_access) == (False, False, False)
    assert report.groups_pending == ()
    codes = [f.code for f in report.findings]
    assert "not-in-render-group" in codes
    # alice is listed in render and video but this login only has her own group yet.
    fresh = detect_hardware(Settings(), options(tmp_path, Identity.parse("1000:1000:alice")))
    assert fresh.groups_pending == ("render", "video")
    assert "groups-pending" in [f.code for f in fresh.findings]
    assert "not-in-render-group" not in [f.code for f in fresh.findings]
    root = detect_hardware(Settings(), options(tmp_path, Identity.parse("0:0:root")))
    assert root.gpus[0].render_access and root.kfd_access


def test_wsl2_from_dev_dxg_or_usr_lib_wsl(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    assert not detect_hardware(Settings(), options(tmp_path)).wsl2
    (tmp_path / "dev/dxg").touch()
    report = detect_hardware(Settings(), options(tmp_path))
    assert report.wsl2
    assert "wsl2" in [f.code for f in report.findings]
    assert "no-gpu" not in [f.code for f in report.findings]  # WSL2 hides GPUs from DRM
    other = tmp_path / "other"
    (other / "usr/lib/wsl").mkdir(parents=True)
    assert detect_hardware(Settings(), options(other)).wsl2


def test_options_from_environment(tmp_path: Path) -> None:
    opts = detect_options_from_env(
        {
            "PAITUI_HW_ROOT": str(tmp_path),
            "PAITUI_HW_IDENTITY": "1000:1000,44:alice",
            "PAITUI_HW_DOCKER": "off",
            "PAITUI_HW_UDEV": "off",
            "PAITUI_HW_NVML": "off",
        }
    )
    assert opts.host.root == tmp_path and opts.host.identity_injected
    assert opts.host.identity == Identity(1000, frozenset({1000, 44}), "alice")
    assert (opts.docker, opts.use_udev, opts.use_nvml) == ("off", False, False)
    real = detect_options_from_env({})
    assert real.host.root == Path("/") and not real.host.identity_injected
    assert (real.docker, real.use_udev) == ("query", True)


#: The JSON contract scripts rely on: top-level keys, GPU keys, and their JSON types.
REPORT_KEYS: dict[str, type | tuple[type, ...]] = {
    "gpus": list,
    "accels": list,
    "ranking": list,
    "findings": list,
    "render_gid": (int, type(None)),
    "video_gid": (int, type(None)),
    "user_in_render": bool,
    "user_in_video": bool,
    "kfd_present": bool,
    "kfd_access": bool,
    "nvidia_nodes": list,
    "wsl2": bool,
    "kernel": (str, type(None)),
    "vulkan_icds": list,
    "docker": (dict, type(None)),
    "models_free_bytes": (int, type(None)),
    "ram_bytes": (int, type(None)),
    "source": str,
    "source_note": (str, type(None)),
    "user": (str, type(None)),
    "uid": (int, type(None)),
    "groups_pending": list,
    "models_dir": (str, type(None)),
    "extra": dict,
}
GPU_KEYS: dict[str, type | tuple[type, ...]] = {
    "vendor": str,
    "pci_id": str,
    "pci_slot": str,
    "name": str,
    "driver": (str, type(None)),
    "card_node": (str, type(None)),
    "render_node": (str, type(None)),
    "card_access": bool,
    "render_access": bool,
    "integrated": bool,
    "boot_vga": bool,
    "vram_total": (int, type(None)),
    "vram_used": (int, type(None)),
    "is_display_only": bool,
    "model": (str, type(None)),
    "vendor_name": (str, type(None)),
    "via": list,
}


def test_json_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    workstation(tmp_path)
    for key, value in {
        "PAITUI_HW_ROOT": str(tmp_path),
        "PAITUI_HW_IDENTITY": "1000:1000,44,105:alice",
        "PAITUI_HW_DOCKER": "off",
        "PAITUI_HW_UDEV": "off",
        "PAITUI_HW_NVML": "off",
        "PAITUI_GPU_LIVE": "off",  # live GPU use adds its fields (tests/gpu/test_cli_gpu.py)
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["hw", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == set(REPORT_KEYS)
    for key, kind in REPORT_KEYS.items():
        assert isinstance(data[key], kind), key
    assert len(data["gpus"]) == 2
    for g in data["gpus"]:
        assert set(g) == set(GPU_KEYS)
        for key, kind in GPU_KEYS.items():
            assert isinstance(g[key], kind), key
    assert data["gpus"][0]["vendor"] == "amd"
    assert [a["accel"] for a in data["accels"]] == ["cuda", "rocm", "intel", "vulkan", "cpu"]
    for a in data["accels"]:
        assert set(a) == {"accel", "usable", "reasons"}
        assert isinstance(a["usable"], bool) and all(isinstance(r, str) for r in a["reasons"])
    assert data["ranking"] == ["rocm", "vulkan", "cpu"]
    for f in data["findings"]:
        assert set(f) == {"severity", "code", "message", "fix"}
        assert f["severity"] in {"info", "warning", "error"}

    assert main(["hw"]) == 0
    text = capsys.readouterr().out
    assert "GPUs (2, via sysfs):" in text
    assert "AMD GPU 1002:7340  [amd, discrete]" in text
    assert f"render {tmp_path}/dev/dri/renderD128  ok" in text
    assert "Ranking: rocm > vulkan > cpu" in text
    assert "[info] udev is unavailable" in text


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("PAITUI_HW_IDENTITY", "alice", "paitui hw: PAITUI_HW_IDENTITY='alice': expected UID:GID"),
        ("PAITUI_HW_DOCKER", "/no/such.json", "paitui hw: PAITUI_HW_DOCKER='/no/such.json': "),
    ],
)
def test_malformed_variables_give_one_line_errors(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    var: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv("PAITUI_HW_ROOT", str(tmp_path))
    monkeypatch.setenv("PAITUI_HW_UDEV", "off")
    monkeypatch.setenv(var, value)
    assert main(["hw"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1
