"""A launch plan as a Podman Quadlet ``.container`` unit, so the app comes back after a reboot.

Quadlet (``podman-systemd.unit(5)``) turns ``/etc/containers/systemd/NAME.container`` (rootful)
or ``~/.config/containers/systemd/NAME.container`` (rootless) into ``NAME.service`` on
``systemctl daemon-reload``. Values are written with systemd's quoting; ``%`` is doubled (a
specifier) and ``$`` too (variable expansion in the generated ExecStart), so the app gets the
plan's own values. Keys used: those of Podman 5's Quadlet (GroupAdd, ShmSize, Entrypoint...).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from paitui.domain.engine.kind import PODMAN, EngineKind
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.engine_plan import cdi_names, plan_for_engine
from paitui.domain.launch.plan import LaunchPlan

#: Where Quadlet reads units: for the whole box (root) and for one user.
ROOTFUL_DIR = "/etc/containers/systemd"
ROOTLESS_DIR = "~/.config/containers/systemd"

_RESTART = {"unless-stopped": "always", "always": "always", "on-failure": "on-failure", "no": "no"}
_SECURITY_KEYS = {"label=disable": ("SecurityLabelDisable", "true")}


@dataclass(frozen=True)
class QuadletUnit:
    """The unit file and what it needs before the first start."""

    name: str  # file name, e.g. ``paitui-llamacpp.container``
    text: str
    #: Shell commands to run once before ``systemctl start`` (data dir, image build).
    setup: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    service: str = ""  # the systemd service Quadlet makes of it
    dirs: tuple[str, ...] = field(default_factory=tuple)
    #: Files that go beside the unit (name, text): the env file for values systemd would alter.
    files: tuple[tuple[str, str], ...] = ()


class QuadletError(ValueError):
    """The plan holds something a Quadlet unit cannot carry."""


def _plain(value: str) -> bool:
    return not any(c in value for c in " \t\"'\\;$%\n")


def quote(value: str) -> str:
    """One word in systemd's quoting, with ``%`` and ``$`` escaped."""
    value = value.replace("%", "%%").replace("$", "$$")
    if value and not any(c in value for c in " \t\"'\\;") and "\n" not in value:
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def qualified_image(image: str) -> str:
    """The image with its registry: Podman refuses short names it cannot resolve for sure."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"docker.io/{image}" if sep else f"docker.io/library/{image}"


def _port(host_ip: str, host: int, container: int, proto: str) -> str:
    ip = f"[{host_ip}]" if ":" in host_ip else host_ip
    return f"{ip}:{host}:{container}" + ("" if proto == "tcp" else f"/{proto}")


def _container_lines(plan: LaunchPlan) -> list[str]:
    lines = [f"ContainerName={quote(plan.name)}", f"Image={quote(qualified_image(plan.image))}"]
    lines += [f"Label={quote(f'{k}={v}')}" for k, v in plan.labels.items()]
    lines += [f"PublishPort={_port(p.host_ip, p.host_port, p.container_port, p.protocol)}"
              for p in plan.ports]  # fmt: skip
    for m in plan.mounts:
        lines.append(f"Volume={quote(f'{m.source}:{m.target}' + (':ro' if m.read_only else ''))}")
    lines += [f"AddDevice={quote(f'{d.host}:{d.container}:{d.permissions}')}" for d in plan.devices]
    lines += [f"AddDevice={quote(n)}" for r in plan.device_requests for n in cdi_names(r)]
    lines += [f"GroupAdd={quote(g)}" for g in plan.group_add]
    lines += [f"AddCapability={quote(c)}" for c in plan.cap_add]
    podman_args: list[str] = []
    for opt in plan.security_opt:
        if opt in _SECURITY_KEYS:
            key, value = _SECURITY_KEYS[opt]
            lines.append(f"{key}={value}")
        elif opt.startswith("seccomp="):
            lines.append(f"SeccompProfile={quote(opt.removeprefix('seccomp='))}")
        else:
            podman_args.append(f"--security-opt={opt}")
    if plan.shm_size:
        lines.append(f"ShmSize={quote(plan.shm_size)}")
    if plan.ipc_mode:
        podman_args.append(f"--ipc={plan.ipc_mode}")
    if plan.privileged:
        podman_args.append("--privileged")
    if plan.user:
        lines.append(f"User={quote(plan.user)}")
    if plan.working_dir:
        lines.append(f"WorkingDir={quote(plan.working_dir)}")
    # Values systemd would alter ($, %, quotes, spaces) go to the env file, read as they are.
    lines += [f"Environment={k}={v}" for k, v in plan.env.items() if _plain(v)]
    if any(not _plain(v) for v in plan.env.values()):
        lines.append(f"EnvironmentFile={plan.name}.env")
    command = list(plan.command or ())
    if plan.entrypoint is not None:
        # Like --entrypoint: one word; the rest of a longer entrypoint goes before the command.
        lines.append(f"Entrypoint={quote(plan.entrypoint[0] if plan.entrypoint else '')}")
        command = [*plan.entrypoint[1:], *command]
    if command:
        lines.append("Exec=" + " ".join(quote(w) for w in command))
    if podman_args:
        lines.append("PodmanArgs=" + " ".join(quote(a) for a in podman_args))
    return lines


def _env_file(plan: LaunchPlan) -> list[tuple[str, str]]:
    odd = {k: v for k, v in plan.env.items() if not _plain(v)}
    if not odd:
        return []
    for key, value in odd.items():
        if "\n" in value or "\r" in value:
            raise QuadletError(
                f"the value of {key} holds a line break, which no Quadlet unit or env file can "
                "carry; pass it without one (--env KEY=VALUE)"
            )
    return [(f"{plan.name}.env", "".join(f"{k}={v}\n" for k, v in odd.items()))]


def _setup(plan: LaunchPlan, rootless: bool) -> list[str]:
    out = []
    if plan.data_dir:
        setup = f"mkdir -p {shlex.quote(plan.data_dir)}"
        if plan.data_uid is not None:
            gid = plan.data_gid if plan.data_gid is not None else plan.data_uid
            owner = f"{plan.data_uid}:{gid} {shlex.quote(plan.data_dir)}"
            # Rootless, container uids are mapped: podman unshare chowns as the container sees
            # it, and its root is the user already.
            if not rootless:
                setup += f" && chown {owner}"
            elif (plan.data_uid, gid) != (0, 0):
                setup += f" && podman unshare chown {owner}"
        out.append(setup)
    if plan.build is not None:
        dockerfile = str(PurePosixPath(plan.build.context) / plan.build.dockerfile)
        out.append(shlex.join(["podman", "build", "-t", plan.image, "-f", dockerfile,
                               plan.build.context]))  # fmt: skip
    return out


def quadlet_unit(
    plan: LaunchPlan, hardware: HardwareReport | None = None, *, rootless: bool = False
) -> QuadletUnit:
    """The plan, adjusted for Podman (``engine_plan``), as a Quadlet ``.container`` unit."""
    runtime = hardware.docker.default_runtime if hardware and hardware.docker else None
    kind = EngineKind(PODMAN, rootless=rootless, runtime=runtime)
    plan = plan_for_engine(plan, kind, hardware, via_api=False)
    setup = _setup(plan, rootless)
    files = _env_file(plan)
    head = [f"# {plan.app_id} ({plan.variant}) as planned by paitui"]
    head += [f"# before the first start: {s}" for s in setup]
    head += [f"# note: {w}" for w in plan.warnings]
    restart = _RESTART.get(plan.restart_policy, "always")
    body = [
        "[Unit]",
        # Description is taken as it is written (no quoting), specifiers aside.
        f"Description=paitui app {plan.app_id} ({plan.variant})".replace("%", "%%"),
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Container]",
        *_container_lines(plan),
        "",
        "[Service]",
        f"Restart={restart}",
        # A first start may pull a multi-GB image: systemd's 90 s default would kill it.
        "TimeoutStartSec=900",
        "",
        "[Install]",
        "WantedBy=default.target" if rootless else "WantedBy=multi-user.target default.target",
    ]
    return QuadletUnit(
        name=f"{plan.name}.container",
        text="\n".join(head + body) + "\n",
        setup=tuple(setup),
        warnings=plan.warnings,
        service=f"{plan.name}.service",
        dirs=(plan.data_dir,) if plan.data_dir else (),
        files=tuple(files),
    )
