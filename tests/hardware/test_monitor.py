"""Hot-plug: udev events from a live umockdev testbed reach HardwareMonitor's callback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.hardware.scenario import REPO, TESTBEDS, need_umockdev

pytestmark = pytest.mark.umockdev

BED = "amd-rx5500xt-kfd.umockdev"
PCI = "/sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/0000:02:00.0/0000:03:00.0"


def test_monitor_reports_a_gpu_coming_and_going(tmp_path: object) -> None:
    need_umockdev()
    env = {
        **os.environ,
        "LD_PRELOAD": "libumockdev-preload.so.0",
        "PAITUI_HW_ROOT": str(tmp_path),
        "PAITUI_HW_DOCKER": "off",
        "PAITUI_HW_NVML": "off",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.hardware.monitor_run", str(TESTBEDS / BED)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["before"] == 0
    assert result["got_add"] and result["got_remove"]
    assert result["after"] == ["AMD Radeon RX 5500/5500M / Pro 5500M"]
    # Only card/render minors are reported (not connectors), kfd is not drm.
    assert [tuple(e) for e in result["events"]] == [
        ("add", f"{PCI}/drm/card0"),
        ("add", f"{PCI}/drm/renderD128"),
        ("remove", f"{PCI}/drm/card0"),
    ]
    assert result["running_after_stop"] is False
