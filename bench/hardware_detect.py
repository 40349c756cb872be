"""Benchmark: hardware detection on the 4-GPU umockdev testbed (target: under 100 ms).

Run from the repository root:

    python bench/hardware_detect.py            # re-runs itself under umockdev-run
    python bench/hardware_detect.py --runs 200

Measures, inside one process under the testbed, ``detect_hardware()`` (udev path, then the sysfs
fallback) with Docker and NVML left out (they are separate: Docker is one local HTTP request with
a 2 s timeout), and then the wall time of a whole ``paitui hw --json`` process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTBED = REPO / "tests/hardware/testbeds/workstation-4gpu.umockdev"


def _stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return (
        f"min {ms[0]:.2f} ms  median {statistics.median(ms):.2f} ms  "
        f"p95 {p95:.2f} ms  max {ms[-1]:.2f} ms  (n={len(ms)})"
    )


def inside(runs: int) -> None:
    sys.path.insert(0, str(REPO))
    from paitui.services.hardware.detect import detect_hardware, detect_options_from_env
    from paitui.settings import Settings

    settings = Settings(models_dir=Path(os.environ["PAITUI_HW_ROOT"]) / "models")
    for label, extra in (
        ("udev", {}),
        ("sysfs fallback", {"PAITUI_HW_UDEV": "off", "PAITUI_HW_SYS_ROOT": "/sys"}),
    ):
        options = detect_options_from_env({**os.environ, **extra})
        first_start = time.perf_counter()
        report = detect_hardware(settings, options)
        first = time.perf_counter() - first_start
        assert len(report.gpus) == 4, report.gpus
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            detect_hardware(settings, options)
            samples.append(time.perf_counter() - start)
        print(f"detect_hardware ({label}): first call {first * 1000:.2f} ms; {_stats(samples)}")


def outside(runs: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        Path(root, "etc").mkdir()
        Path(root, "etc/group").write_text("video:x:44:alice\nrender:x:105:alice\n")
        env = {
            **os.environ,
            "PAITUI_HW_ROOT": root,
            "PAITUI_HW_IDENTITY": "1000:1000,44,105:alice",
            "PAITUI_HW_DOCKER": "off",
            "PAITUI_HW_NVML": "off",
        }
        base = ["umockdev-run", "-d", str(TESTBED), "--", sys.executable]
        subprocess.run([*base, __file__, "--inside", "--runs", str(runs)], env=env, check=True)
        samples = []
        for _ in range(10):
            start = time.perf_counter()
            subprocess.run(
                [*base, "-m", "paitui", "hw", "--json"],
                env=env,
                check=True,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
            )
            samples.append(time.perf_counter() - start)
        print(f"whole `paitui hw --json` process under umockdev-run: {_stats(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.runs)
    else:
        outside(args.runs)


if __name__ == "__main__":
    main()
