"""Launch plans per engine (pure): CDI names for NVIDIA on Podman, keep-groups when rootless."""

from __future__ import annotations

import dataclasses

import pytest

from paitui.domain.catalog.schema import App
from paitui.domain.engine.kind import DOCKER, PODMAN, EngineKind, engine_kind
from paitui.domain.hardware.report import DockerFacts, HardwareReport
from paitui.domain.launch.engine_plan import KEEP_GROUPS, cdi_names, kind_of, plan_for_engine
from paitui.domain.launch.plan import GpuRequest, LaunchChoices
from paitui.domain.launch.planner import plan_launch
from tests.engine.test_planner import AMD_BOX, KFD_DRI, NV_RUNTIME, RENDER, SETTINGS, VIDEO
from tests.engine.test_planner import apps as apps

KOBOLD = LaunchChoices(model_file="llm/qwen-7b.Q4_K_M.gguf")
RUNNER = LaunchChoices(
    model_id="stabilityai/sd-turbo", env={"PIPELINE": "text-to-image", "MODEL_ID": "x"}
)


def _podman(
    rootless: bool,
    runtime: str | None = "crun",
    *,
    nvidia_runtime: bool = False,
    nvidia_cdi: tuple[str, ...] = (),
) -> DockerFacts:
    return DockerFacts(
        reachable=True,
        version="5.2.0",
        engine=PODMAN,
        rootless=rootless,
        default_runtime=runtime,
        nvidia_runtime=nvidia_runtime,
        nvidia_cdi=nvidia_cdi,
    )


def _box(
    report: HardwareReport, facts: DockerFacts, *, render: bool = False, video: bool = False
) -> HardwareReport:
    return dataclasses.replace(report, docker=facts, user_in_render=render, user_in_video=video)


def test_engine_kind_from_version_and_info() -> None:
    # The shapes of real answers (Docker 26 and the Podman 4.3.1 service of test-env.sh).
    docker_version = {"Version": "26.1.5", "Components": [{"Name": "Engine", "Version": "26.1.5"}]}
    podman_version = {
        "Version": "4.3.1",
        "Components": [{"Name": "Podman Engine", "Version": "4.3.1"}, {"Name": "Conmon"}],
    }
    rootless_info = {"SecurityOptions": ["name=seccomp,profile=default", "name=rootless"]}
    assert engine_kind(docker_version, {}).name == DOCKER
    kind = engine_kind(podman_version, rootless_info | {"DefaultRuntime": "crun"})
    assert (kind.name, kind.version, kind.rootless, kind.runtime) == (PODMAN, "4.3.1", True, "crun")
    assert kind.describe() == "Podman 4.3.1 (rootless, crun)"
    assert not engine_kind(None, {"ServerVersion": "27.0"}).podman
    assert engine_kind(None, {"ServerVersion": "27.0"}).version == "27.0"
    assert kind_of(None) == EngineKind() and not kind_of(DockerFacts(reachable=False)).podman


def test_docker_plans_are_left_alone(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["livepeer-ai-runner"], NV_RUNTIME, SETTINGS, RUNNER)
    assert plan.device_requests == (GpuRequest("nvidia", -1, (), (("gpu",),)),)
    assert plan_for_engine(plan, EngineKind(DOCKER, rootless=True)) is plan


@pytest.mark.parametrize(
    ("request_", "names"),
    [
        (GpuRequest("nvidia", -1), ("nvidia.com/gpu=all",)),
        (GpuRequest("nvidia", None), ("nvidia.com/gpu=all",)),
        (GpuRequest("nvidia", 2), ("nvidia.com/gpu=0", "nvidia.com/gpu=1")),
        (GpuRequest("nvidia", None, ("1",)), ("nvidia.com/gpu=1",)),
        (GpuRequest("cdi", None, ("nvidia.com/gpu=3",), ()), ("nvidia.com/gpu=3",)),
    ],
)
def test_cdi_names(request_: GpuRequest, names: tuple[str, ...]) -> None:
    assert cdi_names(request_) == names


def test_nvidia_on_podman_goes_through_cdi(apps: dict[str, App]) -> None:
    box = _box(NV_RUNTIME, _podman(False, nvidia_runtime=True))
    plan = plan_launch(apps["livepeer-ai-runner"], box, SETTINGS, RUNNER)
    assert plan.device_requests == (GpuRequest("cdi", None, ("nvidia.com/gpu=all",), ()),)
    assert all(r.driver != "nvidia" for r in plan.device_requests)
    # No NVIDIA CDI spec on the box: the fix is named; the Docker toolkit advice is not given.
    assert any("nvidia-ctk cdi generate" in w for w in plan.warnings)
    assert not any("--runtime=docker" in w for w in plan.warnings)
    assert any("paitui quadlet livepeer-ai-runner" in w for w in plan.warnings)
    # One GPU chosen: its index as the CDI name.
    one = plan_launch(
        apps["livepeer-ai-runner"],
        box,
        SETTINGS,
        dataclasses.replace(RUNNER, gpu="0000:02:00.0"),
    )
    assert one.device_requests[0].device_ids == ("nvidia.com/gpu=1",)
    with_spec = _box(NV_RUNTIME, _podman(False, nvidia_cdi=("/etc/cdi/nvidia.yaml",)))
    quiet = plan_launch(apps["livepeer-ai-runner"], with_spec, SETTINGS, RUNNER)
    assert not any("nvidia-ctk" in w for w in quiet.warnings)


def test_rootful_podman_keeps_the_numeric_gids(apps: dict[str, App]) -> None:
    box = _box(AMD_BOX, _podman(False))
    plan = plan_launch(apps["pai-koboldcpp"], box, SETTINGS, KOBOLD)
    assert plan.devices == KFD_DRI
    assert plan.group_add == (str(VIDEO), str(RENDER))


def test_rootless_podman_keeps_the_login_groups(apps: dict[str, App]) -> None:
    member = _box(AMD_BOX, _podman(True), render=True, video=True)
    plan = plan_launch(apps["pai-koboldcpp"], member, SETTINGS, KOBOLD)
    assert plan.devices == KFD_DRI  # /dev/kfd and /dev/dri as on Docker
    assert plan.group_add == (KEEP_GROUPS,)
    assert not any("cannot be reached" in w or "crun" in w for w in plan.warnings)
    # Not in render: the GPU cannot be reached, and the fix says how.
    outsider = _box(AMD_BOX, _podman(True), video=True)
    plan = plan_launch(apps["pai-koboldcpp"], outsider, SETTINGS, KOBOLD)
    (why,) = [w for w in plan.warnings if "cannot be reached" in w]
    assert "'render'" in why and "'video'" not in why and "usermod -aG render" in why
    # runc cannot keep groups.
    runc = _box(AMD_BOX, _podman(True, "runc"), render=True, video=True)
    plan = plan_launch(apps["pai-koboldcpp"], runc, SETTINGS, KOBOLD)
    assert plan.group_add == (KEEP_GROUPS,)
    assert any("needs crun" in w and "runc" in w for w in plan.warnings)


def test_applying_twice_changes_nothing(apps: dict[str, App]) -> None:
    box = _box(AMD_BOX, _podman(True, "runc"))
    kind = kind_of(box.docker)
    once = plan_launch(apps["pai-koboldcpp"], box, SETTINGS, KOBOLD)
    assert plan_for_engine(once, kind, box) == once
    cuda = plan_launch(
        apps["livepeer-ai-runner"], _box(NV_RUNTIME, _podman(True)), SETTINGS, RUNNER
    )
    assert plan_for_engine(cuda, kind_of(_podman(True)), NV_RUNTIME) == cuda
