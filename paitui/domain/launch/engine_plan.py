"""A launch plan adjusted for the engine that runs it (pure).

The planner writes Docker's parameters. On Podman:

- NVIDIA GPUs go through CDI device names (``nvidia.com/gpu=all``, ``nvidia.com/gpu=0``), not
  the ``nvidia`` runtime's DeviceRequests (``nvidia-ctk cdi generate`` writes the spec).
- ``/dev/kfd`` and ``/dev/dri`` are passed as on Docker.
- Rootless, the host's numeric render/video GIDs do not map into the user namespace (they
  become ``nogroup``): ``--group-add keep-groups`` hands the container the groups of the login
  instead, which only crun supports and which allows no other group next to it.
"""

from __future__ import annotations

import dataclasses

from paitui.domain.engine.kind import EngineKind
from paitui.domain.hardware.report import DockerFacts, HardwareReport
from paitui.domain.launch.plan import GpuRequest, LaunchPlan

KEEP_GROUPS = "keep-groups"
#: The planner's advice for Docker without the NVIDIA toolkit, replaced by Podman's own.
_DOCKER_TOOLKIT_HINT = "the engine reports no nvidia runtime"


def kind_of(facts: DockerFacts | None) -> EngineKind:
    """The engine kind hardware detection found (Docker when it found none)."""
    if facts is None or not facts.reachable:
        return EngineKind()
    return EngineKind(facts.engine, facts.version, facts.rootless, facts.default_runtime)


def cdi_names(request: GpuRequest) -> tuple[str, ...]:
    """The CDI device names that stand for an engine GPU request."""
    if request.driver == "cdi":
        return request.device_ids
    if request.device_ids:
        return tuple(f"nvidia.com/gpu={i}" for i in request.device_ids)
    if request.count in (None, -1):
        return ("nvidia.com/gpu=all",)
    return tuple(f"nvidia.com/gpu={i}" for i in range(request.count))


def _cdi_requests(plan: LaunchPlan) -> tuple[GpuRequest, ...]:
    return tuple(
        GpuRequest(driver="cdi", device_ids=cdi_names(r), capabilities=())
        for r in plan.device_requests
    )


def _rootless_groups(
    plan: LaunchPlan, kind: EngineKind, hardware: HardwareReport | None, warnings: list[str]
) -> tuple[str, ...]:
    numeric = [g for g in plan.group_add if g.isdigit()]
    if not numeric:
        return plan.group_add
    if kind.runtime and kind.runtime != "crun":
        warnings.append(
            f"rootless Podman runs this app with {kind.runtime}, which cannot keep your groups "
            "(--group-add keep-groups needs crun; runc takes it for a group name and the "
            "container does not start): install "
            'crun and set runtime = "crun" under [engine] in ~/.config/containers/containers.conf'
        )
    if hardware is not None:
        missing = [
            name
            for name, gid, member in (
                ("render", hardware.render_gid, hardware.user_in_render),
                ("video", hardware.video_gid, hardware.user_in_video),
            )
            if gid is not None and str(gid) in numeric and not member
        ]
        if missing:
            groups = " and ".join(f"'{n}'" for n in missing)
            warnings.append(
                f"the GPU cannot be reached: rootless Podman gives the container only the "
                f"groups of your login, and you are not in {groups}; run: sudo usermod -aG "
                f"{','.join(missing)} $USER, then log in again"
            )
    # keep-groups admits no other group beside it; names (not GIDs) are kept out too.
    return (KEEP_GROUPS,)


def plan_for_engine(
    plan: LaunchPlan,
    kind: EngineKind,
    hardware: HardwareReport | None = None,
    *,
    via_api: bool = True,
) -> LaunchPlan:
    """``plan`` as the engine ``kind`` takes it (unchanged for Docker); ``via_api``: paitui
    creates the container over the Docker API (False for a Quadlet unit or a podman line)."""
    if not kind.podman:
        return plan
    warnings = [w for w in plan.warnings if not w.startswith(_DOCKER_TOOLKIT_HINT)]
    group_add = plan.group_add
    if kind.rootless:
        group_add = _rootless_groups(plan, kind, hardware, warnings)
    requests = _cdi_requests(plan)
    facts = hardware.docker if hardware is not None else None
    if requests and facts is not None and facts.reachable and not facts.nvidia_cdi:
        warnings.append(
            "Podman reaches NVIDIA GPUs through CDI and no NVIDIA CDI spec was found: "
            "run sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"
        )
    if requests and via_api:
        # Seen with Podman 4.3.1: its Docker API drops CDI device requests without an error.
        warnings.append(
            "if the app sees no GPU, Podman's Docker API dropped the CDI devices (4.3 does): "
            f"run it from a Quadlet unit instead (paitui quadlet {plan.app_id})"
        )
    return dataclasses.replace(
        plan,
        device_requests=requests,
        group_add=group_add,
        warnings=tuple(dict.fromkeys(warnings)),
    )
