"""A launch plan: the exact Docker create parameters for one app variant on this box.

Produced by the pure planner (``paitui.domain.launch.planner``), executed by the engine service,
rendered as a compose service or a ``docker run`` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paitui.domain.hardware.accel import Accel


@dataclass(frozen=True)
class DeviceMapping:
    """A host device node passed into the container."""

    host: str
    container: str
    permissions: str = "rwm"


@dataclass(frozen=True)
class PortBinding:
    """A container port published on ``host_ip:host_port``."""

    container_port: int
    host_ip: str
    host_port: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class ModelLinks:
    """Symlinks in an app's own models folder into the read-only store (layout ``links``)."""

    host_dir: str  # the folder on the host, inside the app's data dir
    store: str  # the store on the host (its index says what is installed)
    store_target: str  # where the store is mounted in the container: the links point there
    formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeedFile:
    """A file written into the app's data dir before it starts, only when none is there."""

    host_path: str
    content: str


@dataclass(frozen=True)
class MountSpec:
    """A bind mount."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class GpuRequest:
    """An engine device request: the NVIDIA runtime or CDI device names."""

    driver: str  # "nvidia" or "cdi"
    count: int | None = None  # -1 = all
    device_ids: tuple[str, ...] = ()
    capabilities: tuple[tuple[str, ...], ...] = (("gpu",),)


@dataclass(frozen=True)
class LaunchChoices:
    """What the user picked for this launch."""

    variant: str | None = None  # None: the best one for this box
    model_file: str | None = None  # path relative to the models store
    #: The model's multimodal projector (mmproj), as ``model_file``; for apps that take one.
    projector: str | None = None
    model_id: str | None = None  # Hugging Face repo id
    gpu: str | None = None  # PCI slot of the chosen GPU; None = all of the variant's kind
    host_port: int | None = None  # for the app's first port
    env: dict[str, str] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    #: The app's source tree on the host, for a build-only image (``Variant.build``); absolute.
    source_dir: str | None = None


@dataclass(frozen=True)
class ImageBuild:
    """How to build a build-only image: ``docker build -t <plan.image> -f dockerfile context``."""

    context: str
    dockerfile: str = "Dockerfile"


@dataclass(frozen=True)
class LaunchPlan:
    """Everything needed to create the container, and nothing that needs I/O to compute."""

    app_id: str
    variant: str
    accel: Accel
    name: str
    image: str
    entrypoint: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    devices: tuple[DeviceMapping, ...] = ()
    group_add: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    shm_size: str | None = None
    ipc_mode: str | None = None
    privileged: bool = False
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[MountSpec, ...] = ()
    device_requests: tuple[GpuRequest, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    restart_policy: str = "unless-stopped"
    #: The app's data dir on the host, created before start and owned by data_uid:data_gid.
    data_dir: str | None = None
    data_uid: int | None = None
    data_gid: int | None = None
    #: Things the user should know (port moved, WSL2 privileged mode, ...).
    warnings: tuple[str, ...] = ()
    #: The image is built locally and exists in no registry: never pull it.
    local_build: bool = False
    #: Built from the user's source tree before the start (implies local_build).
    build: ImageBuild | None = None
    working_dir: str | None = None
    #: The models store on the host whose views (``domain.model_views``) this app reads: they are
    #: brought up to date before it starts.
    models_views: str | None = None
    #: For layout ``links``: where paitui keeps the app's symlinks into the store.
    models_links: ModelLinks | None = None
    #: Files of the app's data dir paitui writes once, before its first start (``seed``).
    seed_files: tuple[SeedFile, ...] = ()
