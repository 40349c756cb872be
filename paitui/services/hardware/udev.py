"""GPU discovery through libudev (pyudev), and the hot-plug monitor.

Each DRM card/render minor is walked up to its PCI parent; minors of one parent become one
``GpuFacts``. Minors without a PCI parent (simpledrm, virtual displays) are skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from paitui.domain.hardware.facts import GpuFacts, is_minor_name, parse_hex, parse_int

log = logging.getLogger(__name__)


class UdevUnavailable(Exception):
    """pyudev or libudev cannot be used here (e.g. inside a container without libudev)."""


def udev_context() -> Any:
    """A pyudev Context, or UdevUnavailable with the reason."""
    try:
        import pyudev
    except ImportError as exc:
        raise UdevUnavailable(f"pyudev is not installed ({exc})") from exc
    try:
        return pyudev.Context()
    except (ImportError, OSError) as exc:
        raise UdevUnavailable(f"libudev cannot be loaded ({exc})") from exc


def _attr(device: Any, name: str) -> bytes | None:
    """One sysfs attribute; None when missing or unreadable (never raises)."""
    try:
        value = device.attributes.get(name)
    except (OSError, KeyError, UnicodeError, ValueError):
        return None
    return value if isinstance(value, bytes) else None


def _prop(device: Any, name: str) -> str | None:
    try:
        value = device.properties.get(name)
    except (KeyError, UnicodeError, ValueError):
        return None
    return str(value) if value else None


def _facts_of_pci(pci: Any) -> GpuFacts:
    pci_id = _prop(pci, "PCI_ID") or ""
    asleep = _attr(pci, "power/runtime_status") == b"suspended"
    vendor_id = parse_hex(_attr(pci, "vendor"))
    device_id = parse_hex(_attr(pci, "device"))
    if ":" in pci_id:  # the uevent's PCI_ID covers attributes that could not be read
        v, _, d = pci_id.partition(":")
        vendor_id = vendor_id if vendor_id is not None else parse_hex(v)
        device_id = device_id if device_id is not None else parse_hex(d)
    try:
        driver = pci.driver or _prop(pci, "DRIVER")
    except (OSError, UnicodeError):
        driver = _prop(pci, "DRIVER")
    return GpuFacts(
        pci_slot=_prop(pci, "PCI_SLOT_NAME") or str(pci.sys_name),
        vendor_id=vendor_id,
        device_id=device_id,
        driver=driver,
        model_db=_prop(pci, "ID_MODEL_FROM_DATABASE"),
        vendor_db=_prop(pci, "ID_VENDOR_FROM_DATABASE"),
        boot_vga=parse_int(_attr(pci, "boot_vga")) == 1,
        # Reading mem_info_* resumes a runtime-suspended GPU: leave a sleeping one alone.
        vram_total=None if asleep else parse_int(_attr(pci, "mem_info_vram_total")),
        vram_used=None if asleep else parse_int(_attr(pci, "mem_info_vram_used")),
    )


def scan_udev(context: Any) -> tuple[list[GpuFacts], str | None]:
    """Every PCI GPU with its card/render nodes, and the /dev/kfd node udev knows (if any)."""
    by_parent: dict[str, GpuFacts] = {}
    nodes: dict[str, dict[str, str]] = {}
    order: list[str] = []
    for dev in context.list_devices(subsystem="drm"):
        name = str(dev.sys_name)
        if not is_minor_name(name):
            continue
        pci = dev.find_parent("pci")
        if pci is None:
            continue
        key = str(pci.sys_path)
        if key not in by_parent:
            by_parent[key] = _facts_of_pci(pci)
            nodes[key] = {}
            order.append(key)
        node = dev.device_node
        if node:
            kind = "render" if name.startswith("renderD") else "card"
            nodes[key].setdefault(kind, str(node))
    gpus = []
    for key in sorted(order, key=lambda k: by_parent[k].pci_slot):
        facts = by_parent[key]
        gpus.append(
            GpuFacts(
                **{
                    **facts.__dict__,
                    "card_node": nodes[key].get("card"),
                    "render_node": nodes[key].get("render"),
                }
            )
        )
    kfd = None
    for dev in context.list_devices(subsystem="kfd"):
        if dev.device_node:
            kfd = str(dev.device_node)
            break
    return gpus, kfd


DrmEventCallback = Callable[[str, str], None]


class HardwareMonitor:
    """Calls ``callback(action, sys_path)`` from its own thread when a DRM card/render node comes
    or goes (an eGPU, a driver bind); driven by udev netlink events, no polling.

    ``stop()`` wakes the thread through pyudev's observer pipe and joins it.
    """

    def __init__(self, callback: DrmEventCallback, context: Any | None = None) -> None:
        self._callback = callback
        self._context = context
        self._observer: Any | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Begin listening; UdevUnavailable when udev or netlink cannot be used."""
        import pyudev

        context = self._context or udev_context()
        try:
            monitor = pyudev.Monitor.from_netlink(context)
            monitor.filter_by(subsystem="drm")
            monitor.start()  # here, not in the observer thread, so failures surface to the caller
        except (OSError, ValueError) as exc:
            raise UdevUnavailable(f"udev events cannot be received ({exc})") from exc

        def on_event(device: Any) -> None:
            name = str(device.sys_name)
            if not is_minor_name(name):
                return
            try:
                self._callback(str(device.action or "change"), str(device.sys_path))
            except Exception:  # a broken callback must not kill the listener thread
                log.exception("hardware monitor callback failed")

        with self._lock:
            if self._observer is not None:
                return
            observer = pyudev.MonitorObserver(monitor, callback=on_event, name="paitui-hw-monitor")
            observer.daemon = True
            observer.start()
            self._observer = observer

    @property
    def running(self) -> bool:
        """Whether the listener thread is alive."""
        return self._observer is not None and bool(self._observer.is_alive())

    def stop(self) -> None:
        """Stop listening and wait for the thread (safe to call twice)."""
        with self._lock:
            observer: Any = self._observer
        self._observer = None
        if observer is not None and observer.is_alive():
            on_own_thread = threading.current_thread().ident == observer.ident
            if on_own_thread:  # joining itself would deadlock
                observer.send_stop()
            else:
                observer.stop()
