"""Raw facts about one PCI display device, and how they become a ``Gpu``.

Both discovery paths (udev and the plain sysfs fallback) produce ``GpuFacts``; naming, the
vendor, integrated/discrete and "display only" are decided here once, without I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paitui.domain.hardware.report import Gpu, Vendor

VENDOR_IDS: dict[int, Vendor] = {0x1002: Vendor.AMD, 0x8086: Vendor.INTEL, 0x10DE: Vendor.NVIDIA}

#: Display controllers that only drive a console/BMC screen; never compute accelerators.
DISPLAY_ONLY_VENDORS: dict[int, str] = {
    0x1A03: "ASPEED",
    0x102B: "Matrox",
    0x19E5: "Huawei",  # hibmc BMC display
    0x1234: "QEMU",
    0x1B36: "Red Hat",
    0x15AD: "VMware",
    0x1013: "Cirrus Logic",
}
DISPLAY_ONLY_DRIVERS = frozenset(
    {"ast", "mgag200", "hibmc-drm", "bochs-drm", "bochs", "qxl", "cirrus", "vmwgfx", "simpledrm"}
)
_SHORT_VENDOR = {Vendor.AMD: "AMD", Vendor.INTEL: "Intel", Vendor.NVIDIA: "NVIDIA"}
#: AMD APUs carve out at most a few GiB as "VRAM"; the discrete cards that matter have more.
_APU_VRAM_LIMIT = 2 * 1024**3


@dataclass(frozen=True)
class GpuFacts:
    """What udev or sysfs says about one PCI display device and its DRM nodes."""

    pci_slot: str
    vendor_id: int | None
    device_id: int | None
    driver: str | None = None
    model_db: str | None = None
    vendor_db: str | None = None
    boot_vga: bool = False
    vram_total: int | None = None
    vram_used: int | None = None
    card_node: str | None = None
    render_node: str | None = None


def parse_hex(raw: str | bytes | None) -> int | None:
    """``0x1002`` / ``1002`` to an int; None when missing or garbage."""
    if raw is None:
        return None
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    try:
        return int(text.strip(), 16)
    except ValueError:
        return None


def parse_int(raw: str | bytes | None) -> int | None:
    """A decimal sysfs number; None when missing or garbage."""
    if raw is None:
        return None
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    try:
        return int(text.strip())
    except ValueError:
        return None


def pci_id_of(vendor_id: int | None, device_id: int | None) -> str:
    """``1002:7340`` style id; ``????`` for an unknown half."""
    v = f"{vendor_id:04x}" if vendor_id is not None else "????"
    d = f"{device_id:04x}" if device_id is not None else "????"
    return f"{v}:{d}"


def readable_name(facts: GpuFacts, vendor: Vendor) -> str:
    """A marketing name from the hwdb string (its bracketed part), else vendor and PCI id."""
    short = _SHORT_VENDOR.get(vendor) or DISPLAY_ONLY_VENDORS.get(facts.vendor_id or -1)
    model = (facts.model_db or "").strip()
    if model:
        # "Navi 14 [Radeon RX 5500/5500M / Pro 5500M]" -> "Radeon RX 5500/5500M / Pro 5500M"
        m = re.search(r"\[([^\]]+)\]\s*$", model)
        name = m.group(1) if m else model
        if short and not name.lower().startswith(short.lower()):
            name = f"{short} {name}"
        return name
    if short:
        return f"{short} GPU {pci_id_of(facts.vendor_id, facts.device_id)}"
    vendor_text = (facts.vendor_db or "").strip()
    if vendor_text:
        return f"{vendor_text} display device {pci_id_of(facts.vendor_id, facts.device_id)}"
    return f"Display device {pci_id_of(facts.vendor_id, facts.device_id)}"


def is_integrated(facts: GpuFacts, vendor: Vendor) -> bool:
    """Heuristic: Intel iGPUs sit on PCI bus 00; AMD APUs have a small VRAM carve-out."""
    bus = facts.pci_slot.split(":")[1] if facts.pci_slot.count(":") >= 2 else ""
    if vendor == Vendor.INTEL:
        return bus == "00"
    if vendor == Vendor.AMD:
        return facts.vram_total is not None and facts.vram_total <= _APU_VRAM_LIMIT
    return False


def gpu_from_facts(facts: GpuFacts, card_access: bool, render_access: bool) -> Gpu:
    """Turn raw facts into the report's ``Gpu``."""
    vendor = VENDOR_IDS.get(facts.vendor_id or -1, Vendor.OTHER)
    display_only = vendor == Vendor.OTHER and (
        (facts.vendor_id in DISPLAY_ONLY_VENDORS) or (facts.driver in DISPLAY_ONLY_DRIVERS)
    )
    return Gpu(
        vendor=vendor,
        pci_id=pci_id_of(facts.vendor_id, facts.device_id),
        pci_slot=facts.pci_slot,
        name=readable_name(facts, vendor),
        driver=facts.driver,
        card_node=facts.card_node,
        render_node=facts.render_node,
        card_access=card_access,
        render_access=render_access,
        integrated=is_integrated(facts, vendor),
        boot_vga=facts.boot_vga,
        vram_total=facts.vram_total,
        vram_used=facts.vram_used,
        is_display_only=display_only,
        model=facts.model_db,
        vendor_name=facts.vendor_db,
    )


_MINOR = re.compile(r"^(card|renderD)\d+$")


def is_minor_name(name: str) -> bool:
    """Whether a drm entry is a card or render node (not a connector such as card0-DP-1)."""
    return bool(_MINOR.match(name))
