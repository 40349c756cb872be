"""The launch planner: from an app, the hardware report, the settings and the user's choices to the
exact Docker create parameters (a ``LaunchPlan``).

Pure: no I/O. Every fact it needs (GIDs, device nodes, the engine's GPU runtimes, ports in use)
comes in through its arguments, so the same plan can be shown, exported and executed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath

from paitui.domain.catalog.schema import App, Variant, accel_of_variant, host_access
from paitui.domain.engine.containers import (
    APP_LABEL,
    ENTRY_HASH_LABEL,
    MANAGED_LABEL,
    VARIANT_LABEL,
)
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import Gpu, HardwareReport, Vendor
from paitui.domain.launch.engine_plan import kind_of, plan_for_engine
from paitui.domain.launch.plan import (
    DeviceMapping,
    GpuRequest,
    ImageBuild,
    LaunchChoices,
    LaunchPlan,
    ModelLinks,
    MountSpec,
    PortBinding,
    SeedFile,
)
from paitui.domain.launch.variant_fit import (
    alias_names,
    best_variant,
    unverified_note,
    variant_named,
    why_not,
)
from paitui.domain.models.store_rules import host_path_problems, overlaps, store_target_problems
from paitui.domain.models.views import BY_KIND, COMFYUI_PATHS, HF_CACHE, VIEWS_DIR
from paitui.domain.problems import Problem
from paitui.settings import Settings

#: Where WSL2 keeps the GPU user-space libraries; Pai mounts it and runs privileged there.
WSL_LIB = "/usr/lib/wsl"
CONTAINER_NAME_PREFIX = "paitui-"
RESTART_POLICY = "unless-stopped"
_GPU_ACCELS = {Accel.ROCM, Accel.INTEL, Accel.VULKAN}
_VENDOR_OF = {Accel.ROCM: Vendor.AMD, Accel.INTEL: Vendor.INTEL, Accel.CUDA: Vendor.NVIDIA}
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)\}")


class PlanError(Problem):
    """A launch that cannot be planned, with a readable reason and what to do about it."""


def container_name(app_id: str) -> str:
    """The predictable container name of an app."""
    return f"{CONTAINER_NAME_PREFIX}{app_id}"


def entry_hash(app: App) -> str:
    """sha256 of the app's catalog entry as JSON: tells whether a container is out of date."""
    return hashlib.sha256(app.model_dump_json().encode("utf-8")).hexdigest()


def choose_variant(app: App, hardware: HardwareReport, wanted: str | None = None) -> str:
    """The variant to launch: the one asked for, else the first of the box's ranking offered."""
    if wanted is not None:
        found = variant_named(app, wanted)
        if found is not None:
            return found
        older = ", ".join(f"{old} (= {new})" for old, new in alias_names(app).items())
        raise PlanError(
            f"{app.name} has no variant {wanted!r}",
            f"choose one of: {', '.join(app.variants)}"
            + (f"; older names: {older}" if older else ""),
        )
    best = best_variant(app, hardware)
    if best is not None:
        return best
    offered = ", ".join(f"{n} ({accel_of_variant(n).value})" for n in app.variants)
    usable = ", ".join(a.value for a in hardware.ranking) or "none"
    why = [
        f"{s.accel.value}: {'; '.join(s.reasons)}"
        for s in hardware.accels
        if not s.usable and s.reasons and any(accel_of_variant(n) == s.accel for n in app.variants)
    ]
    detail = f"; {' | '.join(why)}" if why else ""
    raise PlanError(
        f"{app.name} {why_not(app, hardware)}: no variant it picks by default runs on this "
        f"box; it offers {offered}; usable here: {usable}{detail}",
        "fix the hardware findings (paitui hw), or pick a variant explicitly to plan it anyway",
    )


def _serving(app: App, env: Mapping[str, str]) -> App:
    """``app`` cut down to the variants whose image serves the user's choices (``serves``)."""
    keep = dict(app.variants)
    for key, value in env.items():
        if not any(key in v.serves for v in app.variants.values()):
            continue
        keep = {n: v for n, v in keep.items() if key not in v.serves or value in v.serves[key]}
        if not keep:
            served = sorted({x for v in app.variants.values() for x in v.serves.get(key, ())})
            raise PlanError(
                f"no image of {app.name} serves {key}={value}",
                f"choose one of {key}: {', '.join(served)}",
            )
    return app if len(keep) == len(app.variants) else app.model_copy(update={"variants": keep})


def _check_serves(app: App, name: str, variant: Variant, env: Mapping[str, str]) -> None:
    """Refuse a variant whose image lacks what the chosen value needs, naming the right one."""
    for key, served in variant.serves.items():
        value = env.get(key)
        if value is None or value in served:
            continue
        right = [
            f"--variant {n} ({v.image})"
            for n, v in app.variants.items()
            if value in v.serves.get(key, ())
        ]
        raise PlanError(
            f"{app.name} variant {name} runs {variant.image}, which serves {key} "
            f"{', '.join(served)}, not {value}: that image lacks its dependencies",
            (f"for {key}={value} choose " + " or ".join(right))
            if right
            else f"choose {key} from: {', '.join(served)}",
        )


def _build(app: App, variant: Variant, source_dir: str | None) -> ImageBuild | None:
    """The build of a build-only image from the user's source tree; PlanError without one."""
    if variant.build is None:
        return None
    if not source_dir:
        raise PlanError(
            f"{app.name} has no registry image: paitui builds it from its source, which you "
            "have to give",
            f"clone {app.homepage or 'its repository'} and give that folder (the one holding "
            "its Dockerfile) as the source: the Source field of the launch form, or --source DIR",
        )
    if not PurePosixPath(source_dir).is_absolute():
        raise PlanError(f"the source directory {source_dir} is not an absolute path")
    return ImageBuild(source_dir, variant.build.dockerfile)


def fill(text: str, values: Mapping[str, str | None], where: str) -> str:
    """Fill ``{name}`` placeholders (``{{``/``}}`` are literal braces); unknown names stay."""

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        if name not in values:
            return token
        value = values[name]
        if value is None:
            raise PlanError(
                f"{where} needs {{{name}}} but nothing was chosen for it",
                _FIX_FOR_PLACEHOLDER.get(name, "choose it before launching"),
            )
        return value

    return _PLACEHOLDER.sub(sub, text)


_FIX_FOR_PLACEHOLDER = {
    "models": "the app mounts no models store (mounts.models in the catalog)",
    "models_by_kind": "the app mounts no models store (mounts.models in the catalog)",
    "models_hf_cache": "the app mounts no models store (mounts.models in the catalog)",
    "comfyui_model_paths": "the app mounts no models store (mounts.models in the catalog)",
    "models_views": "the app mounts no models store (mounts.models in the catalog)",
    "model": "choose a model file from the models store (--model FILE)",
    "model_id": "choose a Hugging Face repo id (--model-id ORG/NAME)",
    "render_gid": "the host has no 'render' group; install the GPU driver (see paitui hw)",
    "port": "the app publishes no port",
}


def _gpu_by_choice(hardware: HardwareReport, choice: str) -> Gpu:
    for gpu in hardware.gpus:
        if choice in {
            gpu.pci_slot,
            gpu.card_node,
            gpu.render_node,
            gpu.pci_slot.removeprefix("0000:"),
        }:
            return gpu
    known = ", ".join(f"{g.pci_slot} ({g.name})" for g in hardware.gpus) or "none detected"
    raise PlanError(f"GPU {choice!r} not found", f"choose one of: {known}")


def _best_gpu(hardware: HardwareReport, accel: Accel) -> Gpu | None:
    vendor = _VENDOR_OF.get(accel)
    gpus = [
        g for g in hardware.gpus if not g.is_display_only and (vendor is None or g.vendor == vendor)
    ]
    if not gpus:
        return None
    return max(gpus, key=lambda g: (not g.integrated, g.vram_total or 0))


def _node_devices(gpu: Gpu) -> list[DeviceMapping]:
    nodes = [n for n in (gpu.card_node, gpu.render_node) if n]
    if not nodes:
        raise PlanError(
            f"GPU {gpu.pci_slot} ({gpu.name}) has no /dev/dri card or render node",
            "load its kernel driver (amdgpu, i915/xe or nvidia-drm) and check ls -l /dev/dri",
        )
    return [DeviceMapping(n, n) for n in nodes]


#: What a Vulkan container asks the nvidia runtime for: NVIDIA's Vulkan ICD and libraries come
#: with the graphics capability (the runtime's default, compute and utility, lacks them).
VULKAN_NVIDIA_CAPS = ("gpu", "graphics", "compute", "utility")
_MESA_DRIVERS = {Vendor.AMD: {"amdgpu"}, Vendor.INTEL: {"i915", "xe"}}


def _mesa_gpus(hardware: HardwareReport) -> list[Gpu]:
    """GPUs whose Vulkan driver is the Mesa one an image brings (RADV, ANV) through /dev/dri."""
    return [
        g
        for g in hardware.gpus
        if not g.is_display_only and g.driver in _MESA_DRIVERS.get(g.vendor, set())
    ]


def _proprietary_nvidia(hardware: HardwareReport) -> list[Gpu]:
    return [
        g
        for g in hardware.gpus
        if not g.is_display_only and g.vendor == Vendor.NVIDIA and g.driver == "nvidia"
    ]


def _vulkan_via_nvidia(
    hardware: HardwareReport, gpu_choice: str | None, warnings: list[str]
) -> bool:
    """Whether a Vulkan container gets NVIDIA's GPUs through the runtime (or CDI); says why not
    when the box has one that it cannot get."""
    nvidia = _proprietary_nvidia(hardware)
    if not nvidia:
        return False
    if gpu_choice is not None and _gpu_by_choice(hardware, gpu_choice).vendor != Vendor.NVIDIA:
        return False
    if hardware.usable(Accel.CUDA):
        return True
    warnings.append(
        "the NVIDIA GPU gets no Vulkan here: NVIDIA's Vulkan reaches a container only through "
        "the nvidia runtime or a CDI spec with the graphics capability, and Docker offers "
        "neither (install nvidia-container-toolkit; paitui hw says what is missing)"
    )
    return False


def _devices(
    accel: Accel,
    variant: Variant,
    hardware: HardwareReport,
    gpu_choice: str | None,
    warnings: list[str],
) -> list[DeviceMapping]:
    if accel not in _GPU_ACCELS:
        return []
    gpu: Gpu | None = None
    if gpu_choice is not None:
        gpu = _gpu_by_choice(hardware, gpu_choice)
    elif not variant.all_gpus:
        gpu = _best_gpu(hardware, accel)
        if gpu is None and hardware.gpus:
            warnings.append(
                f"no {accel.value} GPU found for a single-GPU mapping; passing all of /dev/dri"
            )
    devices: list[DeviceMapping] = []
    if accel == Accel.ROCM:
        if hardware.wsl2 and not hardware.kfd_present:
            warnings.append("WSL2 has no /dev/kfd; the container runs privileged with /usr/lib/wsl")
        else:
            if hardware.gpus and not hardware.kfd_present:
                warnings.append(
                    "/dev/kfd is missing on this host: ROCm needs the amdgpu driver loaded"
                )
            devices.append(DeviceMapping("/dev/kfd", "/dev/kfd"))
    devices.extend(
        _node_devices(gpu) if gpu is not None else [DeviceMapping("/dev/dri", "/dev/dri")]
    )
    return devices


def _group_add(accel: Accel, hardware: HardwareReport, warnings: list[str]) -> list[str]:
    if accel not in _GPU_ACCELS:
        return []
    # Numeric host GIDs: the images do not define video/render, so a name would not resolve,
    # and render's GID differs from host to host.
    groups: list[str] = []
    for name, gid in (("video", hardware.video_gid), ("render", hardware.render_gid)):
        if gid is None:
            warnings.append(f"the host has no '{name}' group; the container gets no {name} access")
        elif str(gid) not in groups:
            groups.append(str(gid))
    return groups


def _cuda_request(
    hardware: HardwareReport,
    gpu_choice: str | None,
    warnings: list[str],
    caps: tuple[str, ...] = ("gpu",),
) -> GpuRequest:
    ids: tuple[str, ...] = ()
    if gpu_choice is not None:
        gpu = _gpu_by_choice(hardware, gpu_choice)
        if gpu.vendor != Vendor.NVIDIA:
            raise PlanError(
                f"GPU {gpu.pci_slot} ({gpu.name}) is not an NVIDIA GPU", "choose an NVIDIA GPU"
            )
        # nvidia-smi (and so the container toolkit) numbers GPUs in PCI bus order.
        nvidia = sorted(g.pci_slot for g in hardware.gpus if g.vendor == Vendor.NVIDIA)
        ids = (str(nvidia.index(gpu.pci_slot)),)
    docker = hardware.docker
    if docker is not None and docker.cdi_specs and not docker.nvidia_runtime:
        return GpuRequest(
            driver="cdi",
            device_ids=tuple(f"nvidia.com/gpu={i}" for i in ids) or ("nvidia.com/gpu=all",),
            capabilities=(),
        )
    if docker is not None and docker.reachable and not docker.nvidia_runtime:
        warnings.append(
            "the engine reports no nvidia runtime and no CDI specs: "
            "install nvidia-container-toolkit "
            "(sudo nvidia-ctk runtime configure --runtime=docker; restart docker)"
        )
    if ids:
        return GpuRequest(driver="nvidia", device_ids=ids, capabilities=(caps,))
    return GpuRequest(driver="nvidia", count=-1, capabilities=(caps,))


#: How far above a wanted port the planner looks for a free one (host_ports.SCAN_SPAN too).
PORT_SCAN_SPAN = 200


def first_free_port(
    start: int, is_free: Callable[[int], bool], span: int = PORT_SCAN_SPAN
) -> int | None:
    """The first port from ``start`` up to ``start + span`` (at most 65535) that ``is_free``."""
    return next((p for p in range(start, min(start + span, 65535) + 1) if is_free(p)), None)


def _ports(
    app: App,
    bind: str,
    choice: int | None,
    taken: Iterable[int],
    port_free: Callable[[int], bool] | None,
    warnings: list[str],
) -> list[PortBinding]:
    # Every port offered is one ``port_free`` said yes to: a scan that runs out is an error
    # naming the range, never an unchecked guess.
    used = set(taken)

    def free(port: int) -> bool:
        return port not in used and (port_free is None or port_free(port))

    result: list[PortBinding] = []
    for index, spec in enumerate(app.ports):
        if index == 0 and choice is not None:
            if not 1 <= choice <= 65535:
                raise PlanError(f"host port {choice} is not a port", "choose one from 1 to 65535")
            if not free(choice):
                near = first_free_port(choice + 1, free) if choice < 65535 else None
                raise PlanError(
                    f"host port {choice} is already in use on {bind}",
                    f"choose another port{f', e.g. {near} (free now)' if near else ''}, "
                    f"or free this one: ss -ltnp 'sport = :{choice}'",
                )
            host = choice
        else:
            wanted = spec.container
            found = first_free_port(wanted, free)
            if found is None:
                last = min(wanted + PORT_SCAN_SPAN, 65535)
                raise PlanError(
                    f"no free host port for {app.name}'s port {wanted}: "
                    f"{wanted}-{last} on {bind} are all in use",
                    "free one of them, or choose a port outside that range "
                    "(--port N, or the Port field of the launch form)",
                )
            host = found
            if host != wanted:
                warnings.append(
                    f"port {wanted} is in use; {app.name} is published on {bind}:{host} instead"
                )
        used.add(host)
        result.append(PortBinding(spec.container, bind, host, "tcp"))
    return result


def _owner(app: App, user: str | None) -> tuple[int | None, int | None]:
    data = app.mounts.data
    uid = data.uid if data else None
    gid = data.gid if data else None
    if user and (uid is None or gid is None):
        # "1999:1999" / "1000": the image runs as this numeric user, so its data dir must be theirs.
        parts = user.split(":")
        if uid is None and parts[0].isdigit():
            uid = int(parts[0])
        if gid is None and len(parts) > 1 and parts[1].isdigit():
            gid = int(parts[1])
        elif gid is None and uid is not None:
            gid = uid
    return uid, gid


def _model_path(app: App, model_file: str | None, store: Path) -> str | None:
    if model_file is None:
        return None
    models = app.mounts.models
    if models is None:
        raise PlanError(
            f"{app.name} does not mount the models store, so it cannot use a model file",
            "launch it without --model",
        )
    rel = PurePosixPath(model_file)
    if rel.is_absolute():
        try:
            rel = PurePosixPath(Path(model_file).relative_to(store).as_posix())
        except ValueError:
            raise PlanError(
                f"model file {model_file} is not inside the models store {store}",
                "download or move it into the models store",
            ) from None
    if ".." in rel.parts:
        raise PlanError(f"model file {model_file} points outside the models store")
    return str(PurePosixPath(models.path) / rel)


def _check_needs(app: App, choices: LaunchChoices, env: Mapping[str, str]) -> None:
    needs = app.needs
    if needs.model_file:
        formats = ", ".join(needs.model_file)
        if choices.model_file is None:
            raise PlanError(
                f"{app.name} needs a model file ({formats})",
                "download one into the models store and choose it (--model FILE)",
            )
        suffix = PurePosixPath(choices.model_file).suffix.lstrip(".").lower()
        if suffix and suffix not in {f.lower() for f in needs.model_file}:
            raise PlanError(
                f"{app.name} reads {formats} files, not {choices.model_file}",
                f"choose a {formats} file",
            )
    if needs.hf_repo and not choices.model_id:
        raise PlanError(
            f"{app.name} needs a Hugging Face model id", "choose one (--model-id ORG/NAME)"
        )
    missing = [k for k in needs.env if not env.get(k)]
    if missing:
        hints = []
        for key in missing:
            options = needs.choices.get(key)
            hints.append(f"--env {key}={options[0] if options else '...'}")
        raise PlanError(
            f"{app.name} needs {', '.join(missing)} set",
            "set "
            + " ".join(hints)
            + (
                f" (choices for {missing[0]}: {', '.join(needs.choices[missing[0]])})"
                if missing[0] in needs.choices
                else ""
            ),
        )


def _normalize_security_opt(opt: str) -> str:
    # Compose files often write "seccomp:unconfined"; the engine's own form is "seccomp=unconfined".
    key, sep, value = opt.partition(":")
    if sep and "=" not in key and key in {"seccomp", "apparmor", "label", "no-new-privileges"}:
        return f"{key}={value}"
    return opt


def _mount_spec(text: str) -> MountSpec:
    parts = text.split(":")
    if len(parts) < 2:
        raise PlanError(f"extra mount {text!r} is not host:container[:ro]")
    read_only = len(parts) > 2 and "ro" in parts[2].split(",")
    return MountSpec(parts[0], parts[1], read_only)


def _models_values(target: str | None) -> dict[str, str | None]:
    """The store's placeholders: its container path and where its views appear in it."""
    if target is None:
        return dict.fromkeys(
            ("models", "models_by_kind", "models_hf_cache", "comfyui_model_paths", "models_views")
        )
    views = PurePosixPath(target) / VIEWS_DIR
    return {
        "models": target,
        "models_by_kind": str(views / BY_KIND),
        "models_hf_cache": str(views / HF_CACHE),
        "comfyui_model_paths": str(views / COMFYUI_PATHS),
        "models_views": str(views),
    }


def _links(app: App, data_dir: str | None, store: Path) -> ModelLinks | None:
    models, data = app.mounts.models, app.mounts.data
    if models is None or models.layout != "links" or not models.links_dir or not data_dir:
        return None
    assert data is not None  # the catalog check: links_dir lies inside the data dir
    rel = PurePosixPath(models.links_dir).relative_to(data.path)
    return ModelLinks(str(Path(data_dir) / rel), str(store), models.path, models.formats)


def _seeds(app: App, data_dir: str | None, values: Mapping[str, str | None]) -> list[SeedFile]:
    models, data = app.mounts.models, app.mounts.data
    if models is None or models.seed is None or data is None or data_dir is None:
        return []
    rel = PurePosixPath(models.seed.path).relative_to(data.path)
    content = fill(models.seed.content, values, "mounts.models.seed")
    return [SeedFile(str(Path(data_dir) / rel), content)]


def _projector_args(
    app: App,
    choices: LaunchChoices,
    store: Path,
    hf_cache: Path | None,
    command: tuple[str, ...] | None,
    env: dict[str, str],
    warnings: list[str],
) -> tuple[str, ...] | None:
    """Hand the app the model's projector by its flag, on the command or in its argument
    variable; the command as it then is."""
    if choices.projector is None:
        return command
    models = app.mounts.models
    if models is None or models.projector_arg is None:
        warnings.append(
            f"{app.name} takes no multimodal projector: {choices.projector} is not passed"
        )
        return command
    if _in_cache(choices.projector, hf_cache, app):
        path: str | None = choices.projector
    else:
        path = _model_path(app, choices.projector, store)
    assert path is not None
    if models.projector_env is not None:
        before = env.get(models.projector_env, "")
        env[models.projector_env] = f"{before} {models.projector_arg} {path}".strip()
        return command
    return (*(command or ()), models.projector_arg, path)


def _check_store_apart(target: str, store: Path, mounts: Iterable[MountSpec]) -> None:
    writable = [m for m in mounts if not m.read_only]
    problems = store_target_problems(target, [m.target for m in writable])
    problems += host_path_problems(str(store), [m.source for m in writable])
    if problems:
        raise PlanError(problems[0], "fix the catalog entry or the models_dir/apps_dir settings")


def _in_cache(model_file: str | None, cache: Path | None, app: App) -> bool:
    """Whether ``--model`` names a file of the user's HF cache (an absolute path inside it)."""
    if model_file is None or cache is None or app.mounts.models is None:
        return False
    path = PurePosixPath(model_file)
    return path.is_absolute() and ".." not in path.parts and path.is_relative_to(str(cache))


def _hf_cache_mount(cache: Path, mounts: list[MountSpec], warnings: list[str]) -> list[MountSpec]:
    """The user's HF cache, read-only at its own path, unless that breaks the store rules."""
    where = str(cache)
    writable = [m for m in mounts if not m.read_only]
    problems = store_target_problems(where, [m.target for m in writable])
    problems += host_path_problems(where, [m.source for m in writable])
    problems += [
        f"the Hugging Face cache at {where} overlaps the mount at {m.target}"
        for m in mounts
        if m.read_only and (overlaps(where, m.target))
    ]
    if problems:
        warnings.append(f"the Hugging Face cache is not given to the app: {problems[0]}")
        return []
    return [MountSpec(where, where, True)]


def plan_launch(
    app: App,
    hardware: HardwareReport,
    settings: Settings,
    choices: LaunchChoices | None = None,
    *,
    taken_ports: Iterable[int] = frozenset(),
    port_free: Callable[[int], bool] | None = None,
    models_store: Path | None = None,
    hf_cache: Path | None = None,
) -> LaunchPlan:
    """The exact Docker create parameters for ``app`` on this box; PlanError if it cannot launch.

    A host port is offered only when it is not in ``taken_ports`` and ``port_free`` (a
    ``host_ports.PortCheck``) says it is free. ``hf_cache`` (the user's hub cache, when it
    exists) is mounted read-only at its own path for apps that read the store's views, whose
    links to it are absolute (``domain.model_views``).
    """
    choices = choices or LaunchChoices()
    store = models_store or settings.models_dir
    # The user's value of a variable decides the image (ai-runner's PIPELINE picks its tag).
    pick_from = app if choices.variant is not None else _serving(app, {**app.env, **choices.env})
    variant_name = choose_variant(pick_from, hardware, choices.variant)
    variant = app.variants[variant_name]
    accel = accel_of_variant(variant_name)
    warnings: list[str] = []
    if choices.variant is not None and choices.variant.strip().lower() != variant_name:
        warnings.append(
            f"{choices.variant!r} is an older name of the {variant_name} variant: "
            f"launching {variant.image}"
        )
    if choices.variant is not None and hardware.accels and not hardware.usable(accel):
        warnings.append(f"{accel.value} is not usable on this box (paitui hw says why)")
    note = unverified_note(app, variant_name)
    if note is not None:
        warnings.append(note)
    if variant.legacy or app.legacy:
        warnings.append(
            f"{app.name} ({variant_name}) is a legacy image: upstream no longer updates it"
        )

    models_mount = app.mounts.models
    models_env = models_mount.env if models_mount else {}
    run = app.merged(variant)
    raw_env = {**run.env, **models_env, **choices.env}
    _check_needs(app, choices, raw_env)
    _check_serves(app, variant_name, variant, raw_env)
    ports = _ports(app, settings.bind_address, choices.host_port, taken_ports, port_free, warnings)
    values: dict[str, str | None] = {
        "model": (
            choices.model_file
            if _in_cache(choices.model_file, hf_cache, app)
            else _model_path(app, choices.model_file, store)
        ),
        "model_id": choices.model_id,
        "port": str(app.ports[0].container) if app.ports else None,
        "render_gid": str(hardware.render_gid) if hardware.render_gid is not None else None,
        **_models_values(models_mount.path if models_mount else None),
    }
    env = {k: fill(v, values, f"env {k}") for k, v in raw_env.items()}
    entrypoint, command = run.entrypoint, run.command
    if entrypoint is not None:
        entrypoint = tuple(fill(a, values, "the entrypoint") for a in entrypoint)
    if command is not None:
        command = tuple(fill(a, values, "the command") for a in command)
    if models_mount and models_mount.args:
        command = (
            *(command or ()),
            *(fill(a, values, "the models arguments") for a in models_mount.args),
        )
    command = _projector_args(app, choices, store, hf_cache, command, env, warnings)
    if choices.extra_args:
        command = (*(command or ()), *choices.extra_args)
    user = run.user

    device_requests = (
        [_cuda_request(hardware, choices.gpu, warnings)] if accel == Accel.CUDA else []
    )
    dri = True
    if accel == Accel.VULKAN and _vulkan_via_nvidia(hardware, choices.gpu, warnings):
        device_requests.append(_cuda_request(hardware, choices.gpu, warnings, VULKAN_NVIDIA_CAPS))
        # The runtime brings /dev/nvidia*; /dev/dri only for a Mesa GPU beside it (a host
        # whose nvidia-drm is not loaded has no /dev/dri at all).
        dri = choices.gpu is None and bool(_mesa_gpus(hardware))
    devices = _devices(accel, variant, hardware, choices.gpu, warnings) if dri else []
    group_add = _group_add(accel, hardware, warnings) if dri else []
    privileged = variant.privileged
    warnings.extend(f"{field}: {why}" for field, why in host_access(variant))

    build = _build(app, variant, choices.source_dir)
    mounts: list[MountSpec] = []
    if build is not None and variant.build and variant.build.source_mount:
        # Upstream mounts the checkout into the container: the image holds only dependencies.
        mounts.append(MountSpec(build.context, variant.build.source_mount, False))
    if build is not None and variant.build:
        warnings.append(f"the image is built from {build.context} ({build.dockerfile})")
        warnings.extend(variant.build.limits)
    data_dir: str | None = None
    uid, gid = _owner(app, user)
    if app.mounts.data is not None:
        data_dir = str(settings.apps_dir / app.id)
        mounts.append(MountSpec(data_dir, app.mounts.data.path, False))
    mounts.extend(_mount_spec(fill(m, values, "an extra mount")) for m in variant.extra_mounts)
    if app.mounts.models is not None:
        _check_store_apart(app.mounts.models.path, store, mounts)
        # Read-only whatever the entry says: the store is the user's data (store_rules).
        mounts.insert(0, MountSpec(str(store), app.mounts.models.path, True))
        if hf_cache is not None and (
            app.mounts.models.layout in ("by-kind", "hf-cache")
            or _in_cache(choices.model_file, hf_cache, app)
            or _in_cache(choices.projector, hf_cache, app)
        ):
            mounts[1:1] = _hf_cache_mount(hf_cache, mounts, warnings)
    if hardware.wsl2 and accel in _GPU_ACCELS:
        # Pai README: under WSL2 the GPU is reached through /dev/dxg and the libraries in
        # /usr/lib/wsl, which needs a privileged container.
        privileged = True
        if all(m.target != WSL_LIB for m in mounts):
            mounts.append(MountSpec(WSL_LIB, WSL_LIB, False))
        warnings.append(
            "WSL2: the container runs privileged with /usr/lib/wsl mounted (as Pai documents)"
        )

    plan = LaunchPlan(
        app_id=app.id,
        variant=variant_name,
        accel=accel,
        name=container_name(app.id),
        image=variant.image,
        entrypoint=entrypoint,
        command=command,
        env=env,
        user=user,
        devices=tuple(devices),
        group_add=tuple(group_add),
        security_opt=tuple(_normalize_security_opt(o) for o in variant.security_opt),
        cap_add=variant.cap_add,
        shm_size=run.shm_size,
        ipc_mode=run.ipc,
        privileged=privileged,
        ports=tuple(ports),
        mounts=tuple(mounts),
        device_requests=tuple(device_requests),
        labels={
            MANAGED_LABEL: "true",
            APP_LABEL: app.id,
            VARIANT_LABEL: variant_name,
            ENTRY_HASH_LABEL: entry_hash(app),
        },
        restart_policy=RESTART_POLICY,
        data_dir=data_dir,
        data_uid=uid if data_dir else None,
        data_gid=gid if data_dir else None,
        warnings=tuple(warnings),
        local_build=variant.local_build or build is not None,
        build=build,
        working_dir=variant.build.working_dir if build is not None and variant.build else None,
        models_views=(
            str(store) if models_mount and models_mount.layout in ("by-kind", "hf-cache") else None
        ),
        models_links=_links(app, data_dir, store),
        seed_files=tuple(_seeds(app, data_dir, values)),
    )
    return plan_for_engine(plan, kind_of(hardware.docker), hardware)
