"""Host facts around the GPUs: groups and membership, device nodes, kernel, WSL2, Vulkan ICDs,
free disk, the Docker engine, and NVML.

Every filesystem location hangs off one ``HostEnv`` so tests (and "what if" runs) can point
them at a temporary tree and inject the user's identity; see ``paitui.services.hardware.detect`` for
the ``PAITUI_HW_*`` variables that set it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import pwd
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paitui.domain.engine.kind import engine_name
from paitui.domain.hardware.report import DockerFacts

CDI_DIRS = ("etc/cdi", "var/run/cdi")
VULKAN_ICD_DIRS = ("usr/share/vulkan/icd.d", "etc/vulkan/icd.d")


@dataclass(frozen=True)
class Identity:
    """Who paitui checks access for: uid, all group ids of this login, and the user name."""

    uid: int
    gids: frozenset[int]
    user: str | None

    @classmethod
    def current(cls) -> Identity:
        """The running process: os.getgroups() plus the primary group."""
        uid = os.getuid()
        try:
            user: str | None = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = None
        return cls(uid=uid, gids=frozenset({*os.getgroups(), os.getgid()}), user=user)

    @classmethod
    def parse(cls, text: str) -> Identity:
        """``UID:GID,GID,...[:USER]``, e.g. ``1000:1000,44:alice``."""
        uid, _, rest = text.partition(":")
        gids, _, user = rest.partition(":")
        return cls(
            uid=int(uid),
            gids=frozenset(int(g) for g in gids.split(",") if g.strip()),
            user=user or None,
        )


@dataclass(frozen=True)
class HostEnv:
    """Where host facts are read from and for whom."""

    root: Path = Path("/")
    identity: Identity = field(default_factory=Identity.current)
    #: True when the identity was injected: node access is then judged from the default udev
    #: rules (renderD*/kfd group render, card* group video, mode 0660) instead of os.access.
    identity_injected: bool = False

    @property
    def dev(self) -> Path:
        return self.root / "dev"

    @property
    def sys(self) -> Path:
        return self.root / "sys"


@dataclass(frozen=True)
class GroupInfo:
    """One group from the group database."""

    gid: int
    members: tuple[str, ...]


def read_groups(env: HostEnv, names: tuple[str, ...] = ("render", "video")) -> dict[str, GroupInfo]:
    """The wanted groups: from NSS (``grp``) on the real root, else from ``<root>/etc/group``."""
    found: dict[str, GroupInfo] = {}
    if env.root == Path("/"):
        import grp

        for name in names:
            try:
                g = grp.getgrnam(name)
            except KeyError:
                continue
            found[name] = GroupInfo(g.gr_gid, tuple(g.gr_mem))
        return found
    try:
        text = (env.root / "etc" / "group").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) < 3 or parts[0] not in names or parts[0] in found:
            continue
        try:
            gid = int(parts[2])
        except ValueError:
            continue
        members = tuple(m for m in (parts[3].split(",") if len(parts) > 3 else []) if m)
        found[parts[0]] = GroupInfo(gid, members)
    return found


def can_open(path: str, env: HostEnv, groups: Mapping[str, GroupInfo]) -> bool:
    """Whether the user can open a device node read-write."""
    if not env.identity_injected:
        return os.access(path, os.R_OK | os.W_OK)
    if not os.path.exists(path):
        return False
    if env.identity.uid == 0:
        return True
    name = os.path.basename(path)
    if name.startswith("nvidia"):
        return True  # nvidia-modprobe creates its nodes 0666
    wanted = "render" if name.startswith("renderD") or name == "kfd" else "video"
    info = groups.get(wanted) or groups.get("video")
    return info is not None and info.gid in env.identity.gids


def kernel_release(env: HostEnv) -> str | None:
    """The running kernel's release string."""
    try:
        return (env.root / "proc/sys/kernel/osrelease").read_text().strip() or None
    except OSError:
        return (platform.release() or None) if env.root == Path("/") else None


def host_ram(env: HostEnv) -> int | None:
    """Total host RAM in bytes (``MemTotal`` of ``/proc/meminfo``), None when unreadable."""
    try:
        text = (env.root / "proc/meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if key == "MemTotal" and parts and parts[0].isdigit():
            return int(parts[0]) * 1024  # the kernel writes kB (KiB)
    return None


def is_wsl2(env: HostEnv) -> bool:
    """WSL2 exposes GPUs through /dev/dxg and ships its user-mode drivers in /usr/lib/wsl."""
    return (env.dev / "dxg").exists() or (env.root / "usr/lib/wsl").is_dir()


def _files(directory: Path, suffixes: tuple[str, ...]) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [str(directory / n) for n in names if n.endswith(suffixes)]


def vulkan_icds(env: HostEnv) -> tuple[str, ...]:
    """Vulkan ICD manifests installed on the host."""
    return tuple(f for d in VULKAN_ICD_DIRS for f in _files(env.root / d, (".json",)))


def nvidia_nodes(env: HostEnv) -> tuple[str, ...]:
    """The proprietary driver's /dev/nvidia* nodes (not udev devices, so listed directly)."""
    try:
        names = sorted(os.listdir(env.dev))
    except OSError:
        return ()
    return tuple(str(env.dev / n) for n in names if n.startswith("nvidia"))


def kfd_node(env: HostEnv) -> str | None:
    """``/dev/kfd`` when it exists under the dev root."""
    path = env.dev / "kfd"
    return str(path) if path.exists() else None


def cdi_specs(env: HostEnv, extra_dirs: tuple[str, ...] = ()) -> tuple[str, ...]:
    """CDI spec files in /etc/cdi, /var/run/cdi and any directory the engine reports."""
    dirs = [env.root / d for d in CDI_DIRS]
    for d in extra_dirs:
        path = env.root / d.lstrip("/")
        if path not in dirs:
            dirs.append(path)
    return tuple(f for d in dirs for f in _files(d, (".yaml", ".yml", ".json")))


def is_nvidia_cdi(path: str) -> bool:
    """Whether a CDI spec describes NVIDIA devices (``kind: nvidia.com/gpu``)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "nvidia.com/" in fh.read(65536)
    except OSError:
        return False


def free_bytes(path: Path) -> tuple[str | None, int | None]:
    """Free bytes on the filesystem holding ``path`` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return str(probe), shutil.disk_usage(probe).free
    except OSError:
        return None, None


def docker_facts_from_info(
    info: Mapping[str, Any],
    api_version: str | None,
    env: HostEnv,
    host: str | None,
    version: Mapping[str, Any] | None = None,
) -> DockerFacts:
    """DockerFacts from a ``docker info`` (and ``version``) answer (the real and injected path)."""
    security = [str(s) for s in info.get("SecurityOptions") or []]
    runtimes = info.get("Runtimes") or {}
    spec_dirs = tuple(str(d) for d in info.get("CDISpecDirs") or ())
    specs = cdi_specs(env, spec_dirs)
    return DockerFacts(
        reachable=True,
        version=str(info.get("ServerVersion") or "") or None,
        api_version=api_version,
        rootless=any("name=rootless" in s for s in security),
        nvidia_runtime="nvidia" in runtimes,
        cdi_specs=specs,
        host=host,
        nvidia_cdi=tuple(s for s in specs if is_nvidia_cdi(s)),
        engine=engine_name(version),
        default_runtime=str(info.get("DefaultRuntime") or "") or None,
    )


def describe_docker_error(exc: BaseException) -> str:
    """A one-line reason from a docker SDK error (permission, missing socket, refused...)."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " ".join(str(e) for e in seen)
    if "Permission denied" in text or any(isinstance(e, PermissionError) for e in seen):
        return "permission denied on the Docker socket"
    if "No such file" in text or any(isinstance(e, FileNotFoundError) for e in seen):
        return "the Docker socket does not exist (engine not running or not installed)"
    if "Connection refused" in text or any(isinstance(e, ConnectionRefusedError) for e in seen):
        return "connection refused (engine not running)"
    if "timed out" in text.lower() or any(isinstance(e, TimeoutError) for e in seen):
        return "the Docker engine did not answer in time"
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def query_docker(
    env: HostEnv,
    docker_host: str | None,
    timeout: int = 2,
    environ: Mapping[str, str] | None = None,
) -> DockerFacts:
    """Ask the engine (short timeout, never raises).

    The engine is found as the engine service finds it (``services.engine.podman.resolve_engine``:
    settings, ``DOCKER_HOST``, the docker context, the default socket, else a Podman socket), so
    both report the same one.
    """
    from paitui.services.engine.sdk import load_docker

    try:
        load_docker()  # only whether the SDK is installed; make_client adds SSH if needed
    except ImportError as exc:
        return DockerFacts(reachable=False, error=f"docker SDK not installed ({exc})")
    from paitui.services.engine.connect import make_client
    from paitui.services.engine.podman import resolve_engine

    endpoint = resolve_engine(docker_host, environ)
    client = None
    try:
        client = make_client(endpoint, timeout=timeout)
        info = client.info()
        version = client.version()
        return docker_facts_from_info(
            info, str(client.api.api_version), env, endpoint.host, version
        )
    except Exception as exc:  # the SDK raises requests/urllib3/OS errors as well as its own
        return DockerFacts(
            reachable=False,
            error=describe_docker_error(exc),
            host=endpoint.host,
            cdi_specs=cdi_specs(env),
        )
    finally:
        if client is not None:
            client.close()


def injected_docker(env: HostEnv, spec: str) -> DockerFacts | None:
    """Docker facts from ``PAITUI_HW_DOCKER``: ``off`` (not queried) or a JSON file holding
    ``{"info": {...}, "api_version": "1.41", "version": {...}}`` or ``{"error": "..."}``."""
    if spec == "off":
        return None
    try:
        data = json.loads(Path(spec).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"PAITUI_HW_DOCKER={spec!r}: expected 'off' or a JSON file with "
            f'{{"info": ...}} or {{"error": ...}} ({exc})'
        ) from None
    if "error" in data:
        return DockerFacts(reachable=False, error=str(data["error"]), cdi_specs=cdi_specs(env))
    info = data.get("info", {})
    return docker_facts_from_info(
        info, data.get("api_version"), env, data.get("host"), data.get("version")
    )


@dataclass(frozen=True)
class NvmlGpu:
    """What NVML says about one NVIDIA GPU."""

    pci_slot: str
    name: str
    memory_total: int
    memory_used: int


def query_nvml() -> list[NvmlGpu] | None:
    """NVIDIA GPUs through NVML, or None when ``pynvml`` (nvidia-ml-py) or the driver is absent."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return None
    found = []
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            bus = pynvml.nvmlDeviceGetPciInfo(handle).busId
            bus = bus.decode() if isinstance(bus, bytes) else str(bus)
            name = pynvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            # NVML writes 8 hex digits of domain ("00000000:01:00.0"); sysfs uses 4.
            slot = bus.lower()[-12:] if len(bus) >= 12 else bus.lower()
            found.append(NvmlGpu(slot, name, int(mem.total), int(mem.used)))
    except Exception:
        return found or None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
    return found
