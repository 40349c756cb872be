"""Planning a launch for another box: its hardware (its own ``paitui hw --json``, else what its
engine tells, with the GPU facts that leaves out said), its own store and apps dirs, the ports
its engine publishes, and the model as its store holds it.

Pure: the remote answers come in as data (untrusted: every field is checked), the planner's
inputs and the notes that say what was assumed come out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from paitui.domain.fleet.hosts import HostSpec
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.remote import MISSING_WITHOUT_PAITUI, RemoteHardware
from paitui.domain.hardware.report import (
    AccelStatus,
    DockerFacts,
    Gpu,
    HardwareReport,
    Vendor,
)
from paitui.domain.models.holders import RemoteStore

#: What a port check on another box cannot do (said with every remote plan).
NO_BIND_TEST = (
    "ports were checked against {name}'s engine (the ports its containers publish); a port held "
    "there by a program outside any container is not seen from here"
)


def _fits(annotation: str, value: object) -> tuple[bool, object]:
    """Whether ``value`` (from JSON) fits a field annotated ``annotation``, and as what."""
    parts = {p.strip() for p in annotation.split("|")}
    if value is None:
        return "None" in parts, None
    if isinstance(value, bool):
        return "bool" in parts, value
    if isinstance(value, int):
        return "int" in parts and value >= 0, value
    if isinstance(value, str):
        return "str" in parts, value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "tuple[str, ...]" in parts, tuple(value)
    return False, None


def _typed(cls: type[Any], raw: object, **fixed: Any) -> Any:
    """A dataclass from a JSON dict: each field whose value fits its annotation (a bad one keeps
    its default), and ``fixed`` as given; None when a field without default is missing."""
    if not isinstance(raw, Mapping):
        return None
    kwargs: dict[str, Any] = dict(fixed)
    for f in dataclasses.fields(cls):
        if f.name in fixed or f.name not in raw:
            continue
        ok, value = _fits(str(f.type), raw[f.name])
        if ok:
            kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except TypeError:
        return None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _enum(kind: type[Any], value: object) -> Any:
    try:
        return kind(value)
    except (ValueError, TypeError):
        return None


def report_from_json(data: Mapping[str, Any]) -> HardwareReport:
    """The box's ``paitui hw --json`` as the ``HardwareReport`` the planner takes (what matters
    to a plan: GPUs, verdicts, ranking, GIDs, device nodes, the engine's facts)."""
    skip = ("gpus", "accels", "ranking", "findings", "docker", "extra")
    plain = {k: v for k, v in data.items() if k not in skip}
    report: HardwareReport = _typed(HardwareReport, plain) or HardwareReport()
    gpus = []
    for raw in _list(data.get("gpus")):
        vendor = _enum(Vendor, raw.get("vendor")) if isinstance(raw, Mapping) else None
        if vendor is not None:
            gpu = _typed(Gpu, {"name": raw.get("pci_id"), "driver": None, **raw}, vendor=vendor)
            if gpu is not None:
                gpus.append(gpu)
    ranking = tuple(
        a for a in (_enum(Accel, r) for r in _list(data.get("ranking"))) if a is not None
    )
    accels = []
    for raw in _list(data.get("accels")):
        accel = _enum(Accel, raw.get("accel")) if isinstance(raw, Mapping) else None
        if accel is not None:
            reasons = tuple(r for r in _list(raw.get("reasons")) if isinstance(r, str))
            accels.append(AccelStatus(accel, raw.get("usable") is True, reasons))
    docker = _typed(DockerFacts, data.get("docker"))
    return dataclasses.replace(
        report,
        gpus=tuple(gpus),
        accels=tuple(accels),
        ranking=ranking or (Accel.CPU,),
        docker=docker,
        findings=(),
    )


def report_from_engine(hw: RemoteHardware) -> tuple[HardwareReport, list[str]]:
    """A plan's hardware from the engine's facts alone, and what was assumed: NVIDIA when the
    engine has the nvidia runtime or NVIDIA CDI devices (its GPUs' models and VRAM unknown),
    else CPU only."""
    nvidia_cdi = tuple(d for d in hw.cdi_devices if d.startswith("nvidia.com/gpu"))
    nvidia = "nvidia" in hw.runtimes or bool(nvidia_cdi)
    facts = DockerFacts(
        reachable=True,
        version=hw.engine_version,
        nvidia_runtime="nvidia" in hw.runtimes,
        cdi_specs=nvidia_cdi,
        nvidia_cdi=nvidia_cdi,
    )
    ranking = (Accel.CUDA, Accel.CPU) if nvidia else (Accel.CPU,)
    missing = "; ".join(MISSING_WITHOUT_PAITUI)
    notes = [f"{hw.host}: without paitui there, these GPU facts are missing: {missing}"]
    if nvidia:
        why = "the nvidia runtime" if "nvidia" in hw.runtimes else "NVIDIA CDI devices"
        notes.append(f"{hw.host}: assumed NVIDIA GPUs are usable (its engine has {why})")
    else:
        notes.append(
            f"{hw.host}: planned for CPU: its engine shows no GPU runtime or CDI device "
            "(AMD/Intel GPUs need paitui there to be seen)"
        )
    report = HardwareReport(
        ranking=ranking, docker=facts, kernel=hw.kernel, ram_bytes=hw.ram_bytes, source="engine"
    )
    return report, notes


@dataclass(frozen=True)
class RemoteDirs:
    """The box's own store and apps dir, and where each came from."""

    models_dir: str
    apps_dir: str
    notes: tuple[str, ...] = ()


def remote_dirs(spec: HostSpec, store: RemoteStore | None, why_no_store: str = "") -> RemoteDirs:
    """The store (the box's paitui says where, else ``[hosts.NAME] models_dir``) and the apps
    dir (``[hosts.NAME] apps_dir``, else beside the store, as paitui's default layout has it:
    paitui there does not tell it); ValueError saying what to set when the store is not known."""
    notes: list[str] = []
    if store is not None and store.root:
        models = store.root
        if spec.models_dir and spec.models_dir != models:
            notes.append(
                f"{spec.name}: its paitui names the store {models}; [hosts.{spec.name}] "
                f"models_dir {spec.models_dir} is not used"
            )
    elif spec.models_dir:
        models = spec.models_dir
    else:
        because = f" ({why_no_store})" if why_no_store else ""
        raise ValueError(
            f"the models store on {spec.name} is not known{because}: install paitui there, or "
            f'set [hosts.{spec.name}] models_dir = "/path/on/that/box" (and apps_dir) in '
            "config.toml"
        )
    if spec.apps_dir:
        apps = spec.apps_dir
    else:
        apps = str(PurePosixPath(models).parent / "apps")
        notes.append(
            f"{spec.name}: apps data dir assumed {apps} (beside its store); set "
            f"[hosts.{spec.name}] apps_dir to choose"
        )
    for label, path in (("models_dir", models), ("apps_dir", apps)):
        if not PurePosixPath(path).is_absolute():
            raise ValueError(f"[hosts.{spec.name}] {label} must be an absolute path on that box")
    return RemoteDirs(models, apps, tuple(notes))


def split_model(model: str) -> tuple[str, str]:
    """``REPO:FILE``, ``REPO/FILE`` or ``REPO`` as (repo, file); the file is "" for none."""
    repo, sep, name = model.partition(":")
    if not sep:
        parts = model.split("/")
        repo, name = "/".join(parts[:2]), "/".join(parts[2:])
    return repo, name


class NotOnBox(ValueError):
    """The model is not in the box's store (it can be pulled there)."""


def remote_model(
    spec: HostSpec, store: RemoteStore | None, model: str, formats: Iterable[str]
) -> str:
    """``--model REPO:FILE`` (or ``REPO/FILE``, or ``REPO`` with one usable file) as the path in
    the box's store; ValueError saying how to get it there."""
    repo, name = split_model(model)
    pull = f"paitui models pull {repo}{' ' + name if name else ''} --host {spec.name}"
    if store is None:
        if name:
            return f"{repo}/{name}"  # not checkable without paitui there: the app will say
        raise ValueError(f"name the file of {repo} (REPO:FILE): {spec.name}'s store is not known")
    held = {
        f.path: f for r in store.repos if r.repo_id == repo and r.origin == "store" for f in r.files
    }
    if name:
        if name not in held:
            raise NotOnBox(f"{repo}/{name} is not in {spec.name}'s store: run {pull}")
        return f"{repo}/{name}"
    usable = sorted(p for p in held if any(p.endswith(f".{x}") for x in formats)) or sorted(held)
    if len(usable) == 1:
        return f"{repo}/{usable[0]}"
    if not usable:
        raise ValueError(f"{repo} is not in {spec.name}'s store: run {pull} FILE")
    raise ValueError(f"{repo} has {len(usable)} files on {spec.name}: name one as {repo}:FILE")


def engine_port_check(published: Iterable[int]) -> Callable[[int], bool]:
    """``port_free(port)`` for a box whose ports only its engine can tell."""
    held = frozenset(published)
    return lambda port: port not in held
