"""Hot-plug scenario, run under LD_PRELOAD=libumockdev-preload.so.0 (see test_monitor.py).

Creates an empty umockdev testbed through libumockdev (ctypes), starts HardwareMonitor, adds a
GPU to the testbed (which emits udev "add" events), detects again, removes it, and prints what
happened as JSON.
"""

from __future__ import annotations

import ctypes
import json
import sys
import threading
from pathlib import Path

from paitui.services.hardware.detect import (
    HardwareMonitor,
    detect_hardware,
    detect_options_from_env,
)

CARD = "/sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/0000:02:00.0/0000:03:00.0/drm/card0"


def main() -> int:
    lib = ctypes.CDLL("libumockdev.so.0")
    lib.umockdev_testbed_new.restype = ctypes.c_void_p
    ptr, text = ctypes.c_void_p, ctypes.c_char_p
    lib.umockdev_testbed_add_from_string.argtypes = [ptr, text, ptr]
    lib.umockdev_testbed_add_from_string.restype = ctypes.c_bool
    lib.umockdev_testbed_uevent.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    gobject = ctypes.CDLL("libgobject-2.0.so.0")
    gobject.g_object_unref.argtypes = [ctypes.c_void_p]
    testbed = lib.umockdev_testbed_new()
    options = detect_options_from_env()
    before = len(detect_hardware(options=options).gpus)

    events: list[tuple[str, str]] = []
    arrived = threading.Event()
    removed = threading.Event()

    def on_event(action: str, path: str) -> None:
        events.append((action, path))
        if action == "add" and path.endswith("renderD128"):
            arrived.set()
        if action == "remove":
            removed.set()

    monitor = HardwareMonitor(on_event)
    monitor.start()
    bed = Path(sys.argv[1]).read_text()
    assert lib.umockdev_testbed_add_from_string(testbed, bed.encode(), None)
    got_add = arrived.wait(10)
    after = detect_hardware(options=options)
    lib.umockdev_testbed_uevent(testbed, CARD.encode(), b"remove")
    got_remove = removed.wait(10)
    monitor.stop()
    print(
        json.dumps(
            {
                "before": before,
                "got_add": got_add,
                "got_remove": got_remove,
                "after": [g.name for g in after.gpus],
                "events": events,
                "running_after_stop": monitor.running,
            }
        )
    )
    gobject.g_object_unref(testbed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
