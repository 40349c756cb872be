"""GPU discovery by reading ``/sys/class/drm`` directly, for where libudev is unavailable.

Gives the same ``GpuFacts`` as the udev path minus hwdb names (those live in the udev database).
Every read tolerates missing or unreadable files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from paitui.domain.hardware.facts import GpuFacts, is_minor_name, parse_hex, parse_int


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _uevent(path: Path) -> dict[str, str]:
    text = _read(path / "uevent") or ""
    pairs = (line.partition("=") for line in text.splitlines())
    return {k: v for k, sep, v in pairs if sep}


def _link_name(path: Path) -> str | None:
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def _facts_of_pci(pci: Path) -> GpuFacts:
    uevent = _uevent(pci)
    asleep = _read(pci / "power" / "runtime_status") == "suspended"
    vendor_id = parse_hex(_read(pci / "vendor"))
    device_id = parse_hex(_read(pci / "device"))
    v, sep, d = uevent.get("PCI_ID", "").partition(":")
    if sep:
        vendor_id = vendor_id if vendor_id is not None else parse_hex(v)
        device_id = device_id if device_id is not None else parse_hex(d)
    return GpuFacts(
        pci_slot=uevent.get("PCI_SLOT_NAME") or pci.name,
        vendor_id=vendor_id,
        device_id=device_id,
        driver=_link_name(pci / "driver") or uevent.get("DRIVER"),
        boot_vga=parse_int(_read(pci / "boot_vga")) == 1,
        # Reading mem_info_* resumes a runtime-suspended GPU: leave a sleeping one alone.
        vram_total=None if asleep else parse_int(_read(pci / "mem_info_vram_total")),
        vram_used=None if asleep else parse_int(_read(pci / "mem_info_vram_used")),
    )


_PCI_SLOT = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def _pci_parent(minor: Path) -> Path | None:
    """The PCI device a drm minor belongs to: its ``device`` link, else two levels up
    (``.../0000:03:00.0/drm/card0``); None for non-PCI displays such as simpledrm."""
    link = minor / "device"
    pci = link.resolve() if os.path.lexists(link) else minor.resolve().parent.parent
    subsystem = _link_name(pci / "subsystem") or _uevent(pci).get("SUBSYSTEM")
    if subsystem == "pci" or (subsystem is None and _PCI_SLOT.match(pci.name)):
        return pci
    return None


def scan_sysfs(sys_root: Path, dev_root: Path) -> list[GpuFacts]:
    """Every PCI GPU under ``<sys_root>/class/drm`` with its nodes under ``dev_root``."""
    drm = sys_root / "class" / "drm"
    try:
        names = sorted(os.listdir(drm))
    except OSError:
        return []
    found: dict[str, GpuFacts] = {}
    nodes: dict[str, dict[str, str]] = {}
    for name in names:
        if not is_minor_name(name):
            continue
        pci = _pci_parent(drm / name)
        if pci is None:
            continue
        key = str(pci)
        if key not in found:
            found[key] = _facts_of_pci(pci)
            nodes[key] = {}
        devname = _uevent(drm / name).get("DEVNAME") or f"dri/{name}"
        kind = "render" if name.startswith("renderD") else "card"
        nodes[key].setdefault(kind, str(dev_root / devname))
    result = []
    for key, facts in sorted(found.items(), key=lambda kv: kv[1].pci_slot):
        result.append(
            GpuFacts(
                **{
                    **facts.__dict__,
                    "card_node": nodes[key].get("card"),
                    "render_node": nodes[key].get("render"),
                }
            )
        )
    return result
