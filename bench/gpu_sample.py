"""Cost of one live GPU sample: the real /proc, built /proc trees of N processes, the helper.

- real: ``GpuSampler`` on this machine's /sys and /proc (every process, and containers only);
- built: N processes with 16 fds each, one in eight holding a DRM client (recorded xe fdinfo)
  in a docker container, under a temp dir (the scanner does the same syscalls as on /proc);
- helper: the busybox helper container reading M real container PIDs, ``run`` and ``exec``.

Run: ``python bench/gpu_sample.py [--sizes 100,1000,5000] [--helper-image IMAGE]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paitui.services.gpu.sampler import GpuSampler
from tests.gpu.trees import FakeProc, build_proc, build_sysfs, docker_cgroup, fdinfo_text


def _median_ms(fn: object, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def built(n: int, tmp: Path) -> tuple[float, float]:
    """Median ms of a full sample and a containers-only sample over n built processes."""
    xe = fdinfo_text("xe")
    procs = []
    for pid in range(100, 100 + n):
        cid = f"{pid:064x}"
        drm = pid % 8 == 0
        fds = {fd: ("/dev/null", "pos:\t0\n") for fd in range(15)}
        fds[15] = ("/dev/dri/renderD128", xe) if drm else ("socket:[1]", "")
        procs.append(FakeProc(pid, docker_cgroup(cid) if drm else "0::/init.scope\n", "p", fds))
    proc = build_proc(tmp / f"proc{n}", procs)
    sys_root = build_sysfs(tmp / f"sys{n}", "xe-b580")
    full = GpuSampler(sys_root, proc, min_interval=0)
    only = GpuSampler(sys_root, proc, min_interval=0)
    wanted = [f"{p:064x}" for p in range(100, 100 + n) if p % 8 == 0][:4]
    return _median_ms(full.sample), _median_ms(lambda: only.sample(wanted))


def helper(image: str, pids: int) -> None:
    import docker

    from paitui.services.gpu.helper import FdinfoHelper

    client = docker.from_env()
    cs = [
        client.containers.run(image, ["sleep", "120"], detach=True, user="4242")
        for _ in range(pids)
    ]
    try:
        ids = []
        for c in cs:
            c.reload()
            ids.append(int(c.attrs["State"]["Pid"]))
        for mode in ("run", "exec"):
            h = FdinfoHelper(image, mode, name=f"paitui-gpu-bench-{os.getpid()}")
            try:
                t0 = time.perf_counter()
                h.read(ids, {"null"}, prefix="/dev/")
                first = (time.perf_counter() - t0) * 1000
                ms = _median_ms(lambda h=h: h.read(ids, {"null"}, prefix="/dev/"), runs=5)
                print(
                    f"helper {mode:<4} {pids} PIDs: first {first:.0f} ms, then median {ms:.0f} ms"
                )
            finally:
                h.close(stop=True)
    finally:
        for c in cs:
            c.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--helper-image", default="127.0.0.1:5000/paitest/busybox:latest")
    parser.add_argument("--helper-pids", type=int, default=3)
    args = parser.parse_args()
    real = GpuSampler(min_interval=0)
    n_real = sum(1 for x in os.listdir("/proc") if x.isdigit())
    print(
        f"real /proc ({n_real} processes): full {_median_ms(real.sample):.1f} ms, "
        f"containers only {_median_ms(lambda: real.sample([])):.1f} ms"
    )
    with tempfile.TemporaryDirectory() as d:
        for n in (int(x) for x in args.sizes.split(",")):
            full, only = built(n, Path(d))
            print(
                f"built  {n:>5} processes x 16 fds: full {full:.1f} ms, "
                f"containers only {only:.1f} ms"
            )
    if args.helper_pids:
        helper(args.helper_image, args.helper_pids)


if __name__ == "__main__":
    main()
