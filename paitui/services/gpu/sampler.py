"""One live GPU sample on demand: sysfs per GPU, NVML for NVIDIA, /proc (or the helper) per app.

Nothing runs in the background: ``GpuSampler.sample()`` reads when called, and hands back the
last snapshot when called again within ``min_interval`` (2 s), so a screen refreshing faster
costs nothing more. Blocking (a few ms per hundred processes): call it in a thread worker.

Environment (``sampler_from_env``): ``PAITUI_GPU_HELPER`` = ``off`` | ``run`` | ``exec`` (how to
read processes paitui has no rights over; see ``services.gpu.helper``),
``PAITUI_GPU_HELPER_IMAGE`` (default busybox:stable), ``PAITUI_GPU_SYS_ROOT`` (default: the
``PAITUI_HW_SYS_ROOT``/``PAITUI_HW_ROOT`` what-if tree, else /sys), ``PAITUI_GPU_PROC_ROOT``
(for tests), ``PAITUI_HW_NVML=off``. ``PAITUI_GPU_LIVE=off`` makes ``paitui hw``/``ls`` skip
the sample (``cli.gpu_fields``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from paitui.domain.gpu.fdinfo import parse_fdinfo
from paitui.domain.gpu.usage import (
    DeviceReading,
    GpuSnapshot,
    NvmlProcess,
    ProcessGpu,
    combine,
)
from paitui.services.gpu.helper import DEFAULT_IMAGE, FdinfoHelper, HelperUnavailable
from paitui.services.gpu.nvml import NvmlReading, NvmlSource, nvml_source
from paitui.services.gpu.procscan import CgroupCache, ScanResult, scan_proc
from paitui.services.gpu.sysfs_usage import ASLEEP_REASON, DrmDevice, is_asleep, list_devices
from paitui.services.gpu.sysfs_usage import read_device as read_sysfs

MIN_INTERVAL_S = 2.0


def unreadable_note(n: int, helper: str) -> str:
    """Why some per-app figures are missing, and what to do."""
    fix = (
        "set PAITUI_GPU_HELPER=run (or exec) to read them through a helper container"
        if helper == "off"
        else "the helper container could not read them either"
    )
    return (
        f"GPU memory of {n} container process{'es' if n != 1 else ''} is unknown: paitui has "
        f"no ptrace rights over them (they run as another user); {fix}"
    )


class GpuSampler:
    """Live GPU use, sampled only when asked and at most every ``min_interval`` seconds."""

    def __init__(
        self,
        sys_root: Path = Path("/sys"),
        proc_root: Path = Path("/proc"),
        nvml: NvmlSource | None = None,
        helper: FdinfoHelper | None = None,
        min_interval: float = MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sys_root = sys_root
        self.proc_root = proc_root
        self.nvml = nvml
        self.helper = helper
        self.min_interval = min_interval
        self.clock = clock
        self.samples = 0  # how many real reads happened (for tests and the benchmark)
        self._last: tuple[float, frozenset[str] | None, GpuSnapshot] | None = None
        self._lock = threading.Lock()
        self._cgroups: CgroupCache = {}

    def sample(self, containers: Collection[str] | None = None) -> GpuSnapshot:
        """GPU use now; ``containers`` (full ids): only those containers' processes are
        read (what is on screen), None: every process."""
        wanted = frozenset(containers) if containers is not None else None
        with self._lock:
            now = self.clock()
            if self._last is not None:
                at, asked, snap = self._last
                covered = asked is None or (wanted is not None and wanted <= asked)
                if now - at < self.min_interval and covered:
                    return snap
            snap = self._read(wanted, now)
            self._last = (now, wanted, snap)
            self.samples += 1
            return snap

    def _nvidia(self, devices: list[DrmDevice], asleep: set[str]) -> dict[str, NvmlReading | str]:
        slots = [d.gpu for d in devices if d.driver == "nvidia" and d.gpu not in asleep]
        if not slots or self.nvml is None:
            return {}
        return self.nvml.read(slots)

    def _readings(
        self, devices: list[DrmDevice], nv: Mapping[str, NvmlReading | str], asleep: set[str]
    ) -> tuple[list[DeviceReading], list[NvmlProcess]]:
        readings: list[DeviceReading] = []
        procs: list[NvmlProcess] = []
        for dev in devices:
            got = nv.get(dev.gpu)
            if dev.gpu in asleep or got is None:
                readings.append(read_sysfs(dev) if dev.gpu not in asleep else _asleep(dev))
                continue
            if isinstance(got, str):
                why = {"memory_used": got, "memory_total": got, "busy_percent": got}
                readings.append(DeviceReading(dev.gpu, dev.driver, source="nvml", unknown=why))
                continue
            readings.append(
                DeviceReading(
                    dev.gpu,
                    dev.driver,
                    False,
                    got.memory_used,
                    got.memory_total,
                    got.busy_percent,
                    "nvml",
                    {} if got.busy_percent is not None else {"busy_percent": "NVML did not say"},
                )
            )
            procs.extend(NvmlProcess(dev.gpu, pid, used) for pid, used in got.processes)
        return readings, procs

    def _read(self, wanted: frozenset[str] | None, now: float) -> GpuSnapshot:
        devices = list_devices(self.sys_root)
        asleep = {d.gpu for d in devices if is_asleep(d)}
        skip = {m for d in devices if d.gpu in asleep for m in d.minors}
        awake_nodes = {n for d in devices if d.gpu not in asleep for n in d.nodes}
        readings, nv_procs = self._readings(devices, self._nvidia(devices, asleep), asleep)
        scan = scan_proc(
            self.proc_root, skip, containers_only=wanted is not None, cgroups=self._cgroups
        )
        if wanted is not None:
            _keep_only(scan, wanted)
        notes: list[str] = []
        unreadable = list(scan.unreadable)
        via = "direct"
        if not awake_nodes:
            unreadable = []  # no awake DRM node: nothing those processes could hold to read
        elif unreadable and self.helper is not None:
            try:
                answer = self.helper.read(unreadable, awake_nodes)
                via = "helper"
                for pid, texts in answer.fdinfo.items():
                    clients = tuple(c for t in texts if (c := parse_fdinfo(t, pid)) is not None)
                    if clients:
                        ref = scan.containers.get(pid)
                        comm = answer.comm.get(pid, "")
                        scan.processes.append(ProcessGpu(pid, comm, ref, clients))
                unreadable = sorted(answer.denied)
            except HelperUnavailable as exc:
                notes.append(str(exc))
        if unreadable:
            notes.append(unreadable_note(len(unreadable), "off" if self.helper is None else "on"))
        unknown = sorted(
            {r.container_id for p in unreadable if (r := scan.containers.get(p)) is not None}
        )
        if wanted is not None:
            nv_procs = [n for n in nv_procs if _in(scan, n.pid, wanted)]
        return combine(
            readings,
            scan.processes,
            nv_procs,
            unreadable,
            notes,
            now,
            via,
            unknown,
            scan.containers,
        )


def _asleep(dev: DrmDevice) -> DeviceReading:
    why = {"memory_used": ASLEEP_REASON, "memory_total": ASLEEP_REASON}
    why["busy_percent"] = ASLEEP_REASON
    return DeviceReading(dev.gpu, dev.driver, True, source="sysfs", unknown=why)


def _in(scan: ScanResult, pid: int, wanted: frozenset[str]) -> bool:
    ref = scan.containers.get(pid)
    return ref is not None and ref.container_id in wanted


def _keep_only(scan: ScanResult, wanted: frozenset[str]) -> None:
    scan.processes = [p for p in scan.processes if _in(scan, p.pid, wanted)]
    scan.unreadable = [p for p in scan.unreadable if _in(scan, p, wanted)]


def _hw_sys_root(env: Mapping[str, str]) -> str:
    """The sysfs that ``paitui hw`` looks at (its ``PAITUI_HW_*`` what-if roots), else /sys."""
    if env.get("PAITUI_HW_SYS_ROOT"):
        return env["PAITUI_HW_SYS_ROOT"]
    root = env.get("PAITUI_HW_ROOT")
    return str(Path(root) / "sys") if root else "/sys"


def sampler_from_env(
    environ: Mapping[str, str] | None = None, default_helper: str = "run"
) -> GpuSampler:
    """A sampler for this machine, configured by ``PAITUI_GPU_*`` (see the module docstring);
    ValueError with a readable message for a bad value."""
    env = os.environ if environ is None else environ
    mode = (env.get("PAITUI_GPU_HELPER") or default_helper).lower()
    if mode not in ("off", "run", "exec"):
        raise ValueError(f"PAITUI_GPU_HELPER={mode!r}: expected off, run or exec")
    helper = None
    if mode != "off":
        helper = FdinfoHelper(env.get("PAITUI_GPU_HELPER_IMAGE") or DEFAULT_IMAGE, mode)
    use_nvml = env.get("PAITUI_HW_NVML", "").lower() != "off"
    return GpuSampler(
        sys_root=Path(env.get("PAITUI_GPU_SYS_ROOT") or _hw_sys_root(env)),
        proc_root=Path(env.get("PAITUI_GPU_PROC_ROOT") or "/proc"),
        nvml=nvml_source() if use_nvml else None,
        helper=helper,
    )
