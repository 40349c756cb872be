"""Hardware detection: GPUs (udev, or sysfs as fallback), host facts, Docker, then the verdicts.

``detect_hardware()`` is blocking and quick (no Docker: a few ms; the Docker query has a 2 s
timeout); the UI runs it in a thread worker. ``HardwareMonitor`` (re-exported from
``hardware_udev``) reports hot-plug events so callers can detect again.

Environment variables, for tests and "what if" runs (``detect_options_from_env``):

``PAITUI_HW_ROOT``
    A directory standing in for ``/`` for host files: ``etc/group``, ``dev/{kfd,nvidia*,dxg}``,
    ``usr/lib/wsl``, ``etc/cdi``, ``var/run/cdi``, Vulkan ICD dirs, ``proc/sys/kernel/osrelease``
    and ``sys`` (used by the sysfs fallback). udev devices still come from libudev (under
    umockdev: from the testbed).
``PAITUI_HW_SYS_ROOT``
    The sysfs root for the fallback path only (default ``<root>/sys``).
``PAITUI_HW_IDENTITY``
    ``UID:GID,GID,...[:USER]`` — check group membership and node access for this identity
    instead of the running process (access then follows the default udev rules: ``renderD*``
    and ``kfd`` group render, ``card*`` group video, mode 0660).
``PAITUI_HW_DOCKER``
    ``off`` to leave Docker out (``report.docker`` is None), or a JSON file with
    ``{"info": <docker info>, "api_version": "1.41"}`` or ``{"error": "..."}``.
``PAITUI_HW_UDEV``
    ``off`` forces the sysfs fallback.
``PAITUI_HW_NVML``
    ``off`` skips NVML even when ``pynvml`` is installed.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from paitui.domain.hardware.facts import GpuFacts, gpu_from_facts
from paitui.domain.hardware.report import DockerFacts, Gpu, HardwareReport
from paitui.domain.hardware.verdict import conclude
from paitui.services.hardware.host import (
    HostEnv,
    Identity,
    can_open,
    free_bytes,
    host_ram,
    injected_docker,
    is_wsl2,
    kernel_release,
    kfd_node,
    nvidia_nodes,
    query_docker,
    query_nvml,
    read_groups,
    vulkan_icds,
)
from paitui.services.hardware.udev import HardwareMonitor, UdevUnavailable, scan_udev, udev_context
from paitui.settings import Settings

__all__ = [
    "DetectOptions",
    "DetectionCancelled",
    "HardwareMonitor",
    "detect_hardware",
    "detect_options_from_env",
]


class DetectionCancelled(Exception):
    """The caller's cancel event was set during detection."""


@dataclass(frozen=True)
class DetectOptions:
    """How and where to look; the defaults look at the real machine."""

    host: HostEnv = field(default_factory=HostEnv)
    #: "query" asks the engine; "off" leaves Docker out; anything else is an injected JSON file.
    docker: str = "query"
    use_udev: bool = True
    use_nvml: bool = True
    sys_root: Path | None = None
    docker_timeout: int = 2  # seconds


def detect_options_from_env(environ: Mapping[str, str] | None = None) -> DetectOptions:
    """Options from the ``PAITUI_HW_*`` variables (see the module docstring); ValueError with
    a readable message for a malformed one."""
    env = os.environ if environ is None else environ
    root = Path(env.get("PAITUI_HW_ROOT") or "/")
    identity_text = env.get("PAITUI_HW_IDENTITY")
    if identity_text:
        try:
            identity = Identity.parse(identity_text)
        except ValueError:
            raise ValueError(
                f"PAITUI_HW_IDENTITY={identity_text!r}: expected UID:GID,GID,...[:USER], "
                "e.g. 1000:1000,44,105:alice"
            ) from None
        host = HostEnv(root=root, identity=identity, identity_injected=True)
    else:
        host = HostEnv(root=root)
    sys_root = env.get("PAITUI_HW_SYS_ROOT")
    return DetectOptions(
        host=host,
        docker=env.get("PAITUI_HW_DOCKER") or "query",
        use_udev=env.get("PAITUI_HW_UDEV", "").lower() != "off",
        use_nvml=env.get("PAITUI_HW_NVML", "").lower() != "off",
        sys_root=Path(sys_root) if sys_root else None,
    )


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DetectionCancelled


def _scan(options: DetectOptions) -> tuple[list[GpuFacts], str | None, str, str | None]:
    """GPU facts, the kfd node udev knows, the source ("udev"/"sysfs") and why not udev."""
    from paitui.services.hardware.sysfs import scan_sysfs

    note = "disabled by PAITUI_HW_UDEV=off"
    if options.use_udev:
        try:
            facts, kfd = scan_udev(udev_context())
            return facts, kfd, "udev", None
        except UdevUnavailable as exc:
            note = str(exc)
        except OSError as exc:  # /sys unreadable through libudev
            note = f"udev enumeration failed ({exc})"
    sys_root = options.sys_root or options.host.sys
    return scan_sysfs(sys_root, options.host.dev), None, "sysfs", note


def _with_nvml(gpus: list[Gpu]) -> list[Gpu]:
    if not any(g.driver == "nvidia" for g in gpus):
        return gpus
    nvml = {n.pci_slot: n for n in query_nvml() or ()}
    out = []
    for g in gpus:
        n = nvml.get(g.pci_slot.lower())
        if n is None:
            out.append(g)
            continue
        out.append(
            dataclasses.replace(
                g,
                name=n.name if n.name.startswith("NVIDIA") else f"NVIDIA {n.name}",
                vram_total=n.memory_total,
                vram_used=n.memory_used,
                via=(*g.via, "nvml"),
            )
        )
    return out


def _docker(options: DetectOptions, settings: Settings) -> DockerFacts | None:
    if options.docker == "query":
        return query_docker(options.host, settings.docker_host, options.docker_timeout)
    return injected_docker(options.host, options.docker)


def detect_hardware(
    settings: Settings | None = None,
    options: DetectOptions | None = None,
    cancel: threading.Event | None = None,
) -> HardwareReport:
    """Look at the GPUs, the host and Docker, and conclude what can run. Never raises for
    missing or odd hardware; raises DetectionCancelled when ``cancel`` is set."""
    settings = settings or Settings()
    options = options or detect_options_from_env()
    host = options.host
    facts, udev_kfd, source, note = _scan(options)
    _check(cancel)
    groups = read_groups(host)
    render = groups.get("render")
    video = groups.get("video")
    ident = host.identity
    gpus = [
        gpu_from_facts(
            f,
            card_access=bool(f.card_node) and can_open(str(f.card_node), host, groups),
            render_access=bool(f.render_node) and can_open(str(f.render_node), host, groups),
        )
        for f in facts
    ]
    if options.use_nvml:
        gpus = _with_nvml(gpus)
    kfd = udev_kfd or kfd_node(host)
    pending = tuple(
        name
        for name, info in (("render", render), ("video", video))
        if info is not None and ident.user in info.members and info.gid not in ident.gids
    )
    _check(cancel)
    docker = _docker(options, settings)
    _check(cancel)
    models_dir, free = free_bytes(settings.models_dir)
    report = HardwareReport(
        gpus=tuple(gpus),
        render_gid=render.gid if render else None,
        video_gid=video.gid if video else None,
        user_in_render=render is not None and render.gid in ident.gids,
        user_in_video=video is not None and video.gid in ident.gids,
        kfd_present=kfd is not None,
        kfd_access=kfd is not None and can_open(kfd, host, groups),
        nvidia_nodes=nvidia_nodes(host),
        wsl2=is_wsl2(host),
        kernel=kernel_release(host),
        vulkan_icds=vulkan_icds(host),
        docker=docker,
        models_free_bytes=free,
        ram_bytes=host_ram(host),
        models_dir=models_dir,
        source=source,
        source_note=note,
        user=ident.user,
        uid=ident.uid,
        groups_pending=pending,
    )
    return conclude(report)
