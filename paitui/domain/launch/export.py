"""A launch plan rendered for use elsewhere: a docker-compose service and a ``docker run`` line.

``plan_from_compose`` reads the compose text back into a plan, so an export can be checked
against the plan it came from (and a hand-edited one re-imported).
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import yaml

from paitui.domain.catalog.schema import accel_of_variant
from paitui.domain.engine.containers import APP_LABEL, VARIANT_LABEL
from paitui.domain.launch.plan import (
    DeviceMapping,
    GpuRequest,
    ImageBuild,
    LaunchPlan,
    ModelLinks,
    MountSpec,
    PortBinding,
)

#: Compose extension key holding what compose itself has no field for (data dir owner, ...).
X_PAITUI = "x-paitui"


def _device(d: DeviceMapping) -> str:
    return f"{d.host}:{d.container}:{d.permissions}"


def _port(p: PortBinding) -> str:
    host_ip = f"[{p.host_ip}]" if ":" in p.host_ip else p.host_ip
    return f"{host_ip}:{p.host_port}:{p.container_port}/{p.protocol}"


def _compose_gpu(r: GpuRequest) -> dict[str, Any]:
    out: dict[str, Any] = {"driver": r.driver}
    if r.count is not None:
        out["count"] = "all" if r.count == -1 else r.count
    if r.device_ids:
        out["device_ids"] = list(r.device_ids)
    if r.capabilities:
        # Compose's capabilities are one AND-list; the planner only ever asks for one.
        out["capabilities"] = [c for caps in r.capabilities for c in caps]
    return out


def compose_service(plan: LaunchPlan) -> dict[str, Any]:
    """The plan as one compose service mapping."""
    svc: dict[str, Any] = {"image": plan.image, "container_name": plan.name}
    if plan.build is not None:
        # Compose builds the image (tagged ``image``) from the user's checkout before the start.
        svc["build"] = {"context": plan.build.context, "dockerfile": plan.build.dockerfile}
    if plan.working_dir:
        svc["working_dir"] = plan.working_dir
    if plan.entrypoint is not None:
        svc["entrypoint"] = list(plan.entrypoint)
    if plan.command is not None:
        svc["command"] = list(plan.command)
    if plan.user:
        svc["user"] = plan.user
    if plan.env:
        svc["environment"] = dict(plan.env)
    if plan.ports:
        svc["ports"] = [_port(p) for p in plan.ports]
    if plan.mounts:
        svc["volumes"] = [
            {"type": "bind", "source": m.source, "target": m.target, "read_only": m.read_only}
            for m in plan.mounts
        ]
    if plan.devices:
        svc["devices"] = [_device(d) for d in plan.devices]
    if plan.group_add:
        svc["group_add"] = list(plan.group_add)
    if plan.security_opt:
        svc["security_opt"] = list(plan.security_opt)
    if plan.cap_add:
        svc["cap_add"] = list(plan.cap_add)
    if plan.shm_size:
        svc["shm_size"] = plan.shm_size
    if plan.ipc_mode:
        svc["ipc"] = plan.ipc_mode
    if plan.privileged:
        svc["privileged"] = True
    if plan.device_requests:
        svc["deploy"] = {
            "resources": {
                "reservations": {"devices": [_compose_gpu(r) for r in plan.device_requests]}
            }
        }
    svc["labels"] = dict(plan.labels)
    svc["restart"] = plan.restart_policy
    extra: dict[str, Any] = {}
    if plan.data_dir:
        extra["data_dir"] = plan.data_dir
        if plan.data_uid is not None:
            extra["data_uid"] = plan.data_uid
        if plan.data_gid is not None:
            extra["data_gid"] = plan.data_gid
    if plan.local_build:
        extra["local_build"] = True
    if plan.models_links:
        extra["models_links"] = dataclasses.asdict(plan.models_links)
    if plan.models_views:
        # The app reads the store's views; paitui refreshes them before it starts.
        extra["models_views"] = plan.models_views
    if extra:
        svc[X_PAITUI] = extra
    return svc


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` with ``fn`` applied to every string in it (mapping keys left as they are)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value


def _escape_dollars(text: str) -> str:
    # Compose interpolates every value: "pa$word" would become "pa" plus $word's value.
    return text.replace("$", "$$")


def _unescape_dollars(text: str) -> str:
    return text.replace("$$", "$")


def compose_text(plan: LaunchPlan) -> str:
    """The plan as a docker-compose file with one service, warnings as leading comments.

    Every ``$`` in a value is written ``$$``, so Compose reads back the plan's own values.
    """
    lines = [f"# {plan.app_id} ({plan.variant}) as planned by paitui"]
    if plan.data_dir and plan.data_uid is not None:
        owner = f"{plan.data_uid}:{plan.data_gid if plan.data_gid is not None else plan.data_uid}"
        lines.append(
            f"# before the first start: mkdir -p {plan.data_dir}"
            f" && sudo chown {owner} {plan.data_dir}"
        )
    lines.extend(f"# note: {w}" for w in plan.warnings)
    body = yaml.safe_dump(
        {"services": {plan.app_id: _map_strings(compose_service(plan), _escape_dollars)}},
        sort_keys=False,
        default_flow_style=False,
    )
    return "\n".join(lines) + "\n" + body


def _parse_port(text: str) -> PortBinding:
    spec, _, proto = text.partition("/")
    if spec.startswith("["):
        ip, _, rest = spec[1:].partition("]:")
    else:
        ip, _, rest = spec.partition(":")
    host, _, container = rest.partition(":")
    return PortBinding(int(container), ip, int(host), proto or "tcp")


def _parse_gpu(d: dict[str, Any]) -> GpuRequest:
    count = d.get("count")
    caps = tuple(d.get("capabilities") or ())
    return GpuRequest(
        driver=str(d["driver"]),
        count=-1 if count == "all" else (int(count) if count is not None else None),
        device_ids=tuple(str(i) for i in d.get("device_ids") or ()),
        capabilities=(caps,) if caps else (),
    )


def plan_from_compose(text: str, service: str | None = None) -> LaunchPlan:
    """Read a service written by ``compose_text`` back into a plan (warnings are not kept).

    ``$$`` reads as ``$``, as Compose reads it; ``docker-compose config`` output reads back too.
    """
    doc = yaml.safe_load(text)
    services: dict[str, Any] = doc["services"]
    name = service or next(iter(services))
    svc: dict[str, Any] = _map_strings(services[name], _unescape_dollars)
    labels = {str(k): str(v) for k, v in (svc.get("labels") or {}).items()}
    variant = labels.get(VARIANT_LABEL, "cpu")
    extra = svc.get(X_PAITUI) or {}
    devices = []
    for d in svc.get("devices") or ():
        parts = str(d).split(":")
        devices.append(
            DeviceMapping(
                parts[0],
                parts[1] if len(parts) > 1 else parts[0],
                parts[2] if len(parts) > 2 else "rwm",
            )
        )
    reservations = ((svc.get("deploy") or {}).get("resources") or {}).get("reservations") or {}
    return LaunchPlan(
        app_id=labels.get(APP_LABEL, name),
        variant=variant,
        accel=accel_of_variant(variant),
        name=svc.get("container_name", name),
        image=svc["image"],
        entrypoint=tuple(svc["entrypoint"]) if "entrypoint" in svc else None,
        command=tuple(svc["command"]) if "command" in svc else None,
        env={str(k): str(v) for k, v in (svc.get("environment") or {}).items()},
        user=svc.get("user"),
        devices=tuple(devices),
        group_add=tuple(str(g) for g in svc.get("group_add") or ()),
        security_opt=tuple(svc.get("security_opt") or ()),
        cap_add=tuple(svc.get("cap_add") or ()),
        shm_size=svc.get("shm_size"),
        ipc_mode=svc.get("ipc"),
        privileged=bool(svc.get("privileged", False)),
        ports=tuple(_parse_port(str(p)) for p in svc.get("ports") or ()),
        mounts=tuple(
            MountSpec(str(v["source"]), str(v["target"]), bool(v.get("read_only", False)))
            for v in svc.get("volumes") or ()
        ),
        device_requests=tuple(_parse_gpu(d) for d in reservations.get("devices") or ()),
        labels=labels,
        restart_policy=svc.get("restart", "no"),
        data_dir=extra.get("data_dir"),
        data_uid=extra.get("data_uid"),
        data_gid=extra.get("data_gid"),
        local_build=bool(extra.get("local_build", False)) or "build" in svc,
        models_views=extra.get("models_views"),
        models_links=_links(extra.get("models_links")),
        build=_build(svc.get("build")),
        working_dir=svc.get("working_dir"),
    )


def _build(raw: Any) -> ImageBuild | None:
    # Compose allows ``build: DIR`` as well as the mapping compose_service writes.
    if isinstance(raw, str):
        return ImageBuild(raw)
    if not isinstance(raw, dict) or "context" not in raw:
        return None
    return ImageBuild(str(raw["context"]), str(raw.get("dockerfile") or "Dockerfile"))


def _links(raw: Any) -> ModelLinks | None:
    if not isinstance(raw, dict):
        return None
    return ModelLinks(
        str(raw["host_dir"]),
        str(raw["store"]),
        str(raw["store_target"]),
        tuple(str(f) for f in raw.get("formats") or ()),
    )


def _gpus_flag(r: GpuRequest) -> list[str]:
    if r.driver == "cdi":
        # docker CLI 25+ takes CDI names through --device.
        return [a for i in r.device_ids for a in ("--device", i)]
    if r.device_ids:
        value = f'"device={",".join(r.device_ids)}"'
    else:
        value = "all" if r.count in (None, -1) else str(r.count)
    caps = [c for caps in r.capabilities for c in caps if c != "gpu"]
    if caps:
        value = f'"capabilities={",".join(caps)}",{value}'
    return ["--gpus", value]


def run_argv(plan: LaunchPlan) -> list[str]:
    """The plan as ``docker run`` arguments."""
    argv = ["docker", "run", "-d", "--name", plan.name, "--restart", plan.restart_policy]
    for key, value in plan.labels.items():
        argv += ["--label", f"{key}={value}"]
    for p in plan.ports:
        argv += ["-p", _port(p)]
    for m in plan.mounts:
        argv += ["-v", f"{m.source}:{m.target}" + (":ro" if m.read_only else "")]
    for d in plan.devices:
        argv += ["--device", _device(d)]
    for g in plan.group_add:
        argv += ["--group-add", g]
    for o in plan.security_opt:
        argv += ["--security-opt", o]
    for c in plan.cap_add:
        argv += ["--cap-add", c]
    if plan.shm_size:
        argv += ["--shm-size", plan.shm_size]
    if plan.ipc_mode:
        argv += ["--ipc", plan.ipc_mode]
    if plan.privileged:
        argv.append("--privileged")
    for r in plan.device_requests:
        argv += _gpus_flag(r)
    if plan.user:
        argv += ["--user", plan.user]
    if plan.working_dir:
        argv += ["--workdir", plan.working_dir]
    for key, value in plan.env.items():
        argv += ["-e", f"{key}={value}"]
    command = list(plan.command or ())
    if plan.entrypoint is not None:
        # --entrypoint takes one word; the rest of a longer entrypoint goes before the command.
        argv += ["--entrypoint", plan.entrypoint[0] if plan.entrypoint else ""]
        command = [*plan.entrypoint[1:], *command]
    argv.append(plan.image)
    argv += command
    return argv


def run_line(plan: LaunchPlan) -> str:
    """The plan as a shell-quoted ``docker run`` line, preceded by the data dir set-up if any."""
    lines = []
    if plan.data_dir:
        setup = f"mkdir -p {shlex.quote(plan.data_dir)}"
        if plan.data_uid is not None:
            gid = plan.data_gid if plan.data_gid is not None else plan.data_uid
            setup += f" && sudo chown {plan.data_uid}:{gid} {shlex.quote(plan.data_dir)}"
        lines.append(setup)
    if plan.build is not None:
        lines.append(
            shlex.join(
                [
                    "docker",
                    "build",
                    "-t",
                    plan.image,
                    "-f",
                    str(PurePosixPath(plan.build.context) / plan.build.dockerfile),
                    plan.build.context,
                ]
            )
        )
    lines.append(shlex.join(run_argv(plan)))
    return "\n".join(lines)
