"""A hand-built /sys and /dev tree for the sysfs fallback, shaped like the kernel's."""

from __future__ import annotations

import os
from pathlib import Path


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def add_pci_gpu(
    root: Path,
    bridge: str,
    slot: str,
    attrs: dict[str, str],
    driver: str | None,
    minors: tuple[str, ...],
) -> None:
    """A PCI display device with its drm minors, class links and /dev nodes."""
    rel = f"devices/pci0000:00/{bridge}/{slot}"
    pci = root / "sys" / rel
    depth = rel.count("/") + 1
    up = "../" * depth
    vendor = attrs.get("vendor", "0x0000")[2:]
    device = attrs.get("device", "0x0000")[2:]
    uevent = [f"PCI_SLOT_NAME={slot}", f"PCI_ID={vendor.upper()}:{device.upper()}"]
    if driver:
        uevent.insert(0, f"DRIVER={driver}")
        _link(pci / "driver", f"{up}bus/pci/drivers/{driver}")
    _write(pci / "uevent", "\n".join(uevent) + "\n")
    _link(pci / "subsystem", f"{up}bus/pci")
    for name, value in attrs.items():
        if value == "<unreadable>":
            (pci / name).mkdir(parents=True)  # reading a directory fails like an EIO attribute
        else:
            _write(pci / name, value + "\n")
    for minor in minors:
        node = pci / "drm" / minor
        _write(node / "uevent", f"MAJOR=226\nDEVNAME=dri/{minor}\nDEVTYPE=drm_minor\n")
        _link(node / "device", "../../../" + slot)
        _link(root / "sys/class/drm" / minor, f"../../{rel}/drm/{minor}")
        (root / "dev/dri").mkdir(parents=True, exist_ok=True)
        (root / "dev/dri" / minor).touch()
        for connector in ("DP-1",) if minor.startswith("card") else ():
            conn = node / f"{minor}-{connector}"
            _write(conn / "status", "disconnected\n")
            name = f"{minor}-{connector}"
            _link(root / "sys/class/drm" / name, f"../../{rel}/drm/{minor}/{name}")


def add_simpledrm(root: Path, minor: str) -> None:
    """The firmware framebuffer's card: a platform device, not PCI."""
    rel = "devices/platform/simple-framebuffer.0"
    dev = root / "sys" / rel
    _link(dev / "subsystem", "../../../bus/platform")
    _write(dev / "uevent", "DRIVER=simple-framebuffer\n")
    _write(dev / "drm" / minor / "uevent", f"DEVNAME=dri/{minor}\nDEVTYPE=drm_minor\n")
    _link(dev / "drm" / minor / "device", "../../../simple-framebuffer.0")
    _link(root / "sys/class/drm" / minor, f"../../{rel}/drm/{minor}")


def workstation(root: Path) -> None:
    """An AMD dGPU (one attribute unreadable), an unknown-vendor card with a garbage device
    attribute, simpledrm, /dev/kfd and the desktop group database."""
    add_pci_gpu(
        root,
        "0000:00:01.1/0000:01:00.0/0000:02:00.0",
        "0000:03:00.0",
        {
            "vendor": "0x1002",
            "device": "0x7340",
            "class": "0x030000",
            "boot_vga": "1",
            "mem_info_vram_total": "8573157376",
            "mem_info_vram_used": "<unreadable>",
        },
        "amdgpu",
        ("card0", "renderD128"),
    )
    add_pci_gpu(
        root,
        "0000:00:1c.0",
        "0000:05:00.0",
        {"vendor": "0xabcd", "device": "not-hex", "class": "0x030000"},
        None,
        ("card2",),
    )
    add_simpledrm(root, "card1")
    (root / "dev/kfd").touch()
    _write(root / "etc/group", "video:x:44:alice\nrender:x:105:alice\n")
    _write(root / "proc/sys/kernel/osrelease", "6.1.0-28-amd64\n")
