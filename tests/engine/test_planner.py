"""Launch plans for every seed system and variant, checked against the sourced facts
(catalog-facts.md §1 per app, §2 device rules per variant), using the bundled catalog."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import DockerFacts, Gpu, HardwareReport, Vendor
from paitui.domain.launch.plan import (
    DeviceMapping,
    GpuRequest,
    LaunchChoices,
    MountSpec,
    PortBinding,
)
from paitui.domain.launch.planner import PlanError, choose_variant, plan_launch
from paitui.services.catalog.files import bundled_catalog_path
from paitui.services.catalog.loader import load_file
from paitui.settings import Settings

STORE = Path("/srv/models")
APPS_DIR = Path("/srv/apps")
SETTINGS = Settings(models_dir=STORE, apps_dir=APPS_DIR)
VIDEO, RENDER = 44, 993
KFD_DRI = (DeviceMapping("/dev/kfd", "/dev/kfd"), DeviceMapping("/dev/dri", "/dev/dri"))
DRI = (DeviceMapping("/dev/dri", "/dev/dri"),)

AMD = Gpu(
    Vendor.AMD,
    "1002:7340",
    "0000:03:00.0",
    "Radeon RX 5500 XT",
    "amdgpu",
    "/dev/dri/card1",
    "/dev/dri/renderD129",
    True,
    True,
    vram_total=8 << 30,
)
AMD_IGPU = Gpu(
    Vendor.AMD,
    "1002:1638",
    "0000:07:00.0",
    "Cezanne",
    "amdgpu",
    "/dev/dri/card0",
    "/dev/dri/renderD128",
    True,
    True,
    integrated=True,
    vram_total=512 << 20,
)
INTEL = Gpu(
    Vendor.INTEL,
    "8086:56a0",
    "0000:04:00.0",
    "Arc A770",
    "i915",
    "/dev/dri/card0",
    "/dev/dri/renderD128",
    True,
    True,
    vram_total=16 << 30,
)
NV0 = Gpu(
    Vendor.NVIDIA,
    "10de:2684",
    "0000:01:00.0",
    "RTX 4090",
    "nvidia",
    "/dev/dri/card0",
    "/dev/dri/renderD128",
)
NV1 = Gpu(
    Vendor.NVIDIA,
    "10de:2684",
    "0000:02:00.0",
    "RTX 4090",
    "nvidia",
    "/dev/dri/card1",
    "/dev/dri/renderD129",
)

AMD_BOX = HardwareReport(
    gpus=(AMD_IGPU, AMD),
    ranking=(Accel.ROCM, Accel.VULKAN, Accel.CPU),
    render_gid=RENDER,
    video_gid=VIDEO,
    kfd_present=True,
    kfd_access=True,
)
VULKAN_BOX = HardwareReport(
    gpus=(AMD,),
    ranking=(Accel.VULKAN, Accel.CPU),
    render_gid=RENDER,
    video_gid=VIDEO,
)
INTEL_BOX = HardwareReport(
    gpus=(INTEL,),
    ranking=(Accel.INTEL, Accel.VULKAN, Accel.CPU),
    render_gid=RENDER,
    video_gid=VIDEO,
)
NV_RUNTIME = HardwareReport(
    gpus=(NV1, NV0),
    ranking=(Accel.CUDA, Accel.CPU),
    docker=DockerFacts(reachable=True, nvidia_runtime=True),
)
NV_CDI = HardwareReport(
    gpus=(NV0,),
    ranking=(Accel.CUDA, Accel.CPU),
    docker=DockerFacts(reachable=True, cdi_specs=("/etc/cdi/nvidia.yaml",)),
)


@pytest.fixture(scope="module")
def apps() -> dict[str, App]:
    loaded, issues = load_file(bundled_catalog_path())
    assert not issues, [str(i) for i in issues]
    return {a.id: a for a in loaded}


def test_pai_koboldcpp_rocm(apps: dict[str, App]) -> None:
    app = apps["pai-koboldcpp"]
    plan = plan_launch(app, AMD_BOX, SETTINGS, LaunchChoices(model_file="llm/qwen-7b.Q4_K_M.gguf"))
    assert (plan.variant, plan.accel) == ("rocm", Accel.ROCM)
    assert plan.image == "ghcr.io/futursolo/pai-apps/koboldcpp:rocm"
    assert plan.devices == KFD_DRI
    assert plan.group_add == (str(VIDEO), str(RENDER))
    assert plan.security_opt == ("seccomp=unconfined",)
    assert plan.user == "1999:1999"
    assert plan.entrypoint == ("/opt/koboldcpp/koboldcpp",)
    assert plan.command == (
        "--contextsize",
        "8192",
        "--model",
        "/mnt/models/llm/qwen-7b.Q4_K_M.gguf",
        "--usecublas",
        "--port",
        "5001",
        "--quiet",
    )
    assert plan.ports == (PortBinding(5001, "127.0.0.1", 5001),)
    assert plan.mounts == (MountSpec(str(STORE), "/mnt/models", True),)
    assert plan.device_requests == ()
    assert plan.name == "paitui-pai-koboldcpp"
    assert plan.labels == {
        "paitui.managed": "true",
        "paitui.app": "pai-koboldcpp",
        "paitui.variant": "rocm",
        "paitui.entry-hash": hashlib.sha256(app.model_dump_json().encode()).hexdigest(),
    }
    assert plan.restart_policy == "unless-stopped"
    assert not plan.privileged and plan.warnings == ()


def test_pai_koboldcpp_vulkan_on_a_vulkan_only_box(apps: dict[str, App]) -> None:
    plan = plan_launch(
        apps["pai-koboldcpp"], VULKAN_BOX, SETTINGS, LaunchChoices(model_file="m.gguf")
    )
    assert plan.variant == "vulkan"
    assert plan.image == "ghcr.io/futursolo/pai-apps/koboldcpp:vulkan"
    assert plan.devices == DRI  # no /dev/kfd for vulkan
    assert plan.group_add == (str(VIDEO), str(RENDER))
    assert plan.security_opt == ("seccomp=unconfined",)
    assert "--usevulkan" in (plan.command or ()) and "/mnt/models/m.gguf" in (plan.command or ())


def test_pai_koboldcpp_needs_a_gguf_model(apps: dict[str, App]) -> None:
    with pytest.raises(PlanError, match="needs a model file") as err:
        plan_launch(apps["pai-koboldcpp"], AMD_BOX, SETTINGS)
    assert err.value.fix and "--model" in err.value.fix
    with pytest.raises(PlanError, match="gguf"):
        plan_launch(
            apps["pai-koboldcpp"], AMD_BOX, SETTINGS, LaunchChoices(model_file="x.safetensors")
        )
    with pytest.raises(PlanError, match="outside"):
        plan_launch(apps["pai-koboldcpp"], AMD_BOX, SETTINGS, LaunchChoices(model_file="../x.gguf"))


def test_pai_comfyui_rocm_data_dir_owned_by_pai_user(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["pai-comfyui"], AMD_BOX, SETTINGS)
    assert plan.variant == "rocm"
    assert plan.devices == KFD_DRI
    assert plan.group_add == (str(VIDEO), str(RENDER))
    assert plan.security_opt == ("seccomp=unconfined",)
    assert plan.shm_size == "16G"
    assert plan.user == "1999:1999"
    assert plan.ports == (PortBinding(8188, "127.0.0.1", 8188),)
    assert plan.data_dir == str(APPS_DIR / "pai-comfyui")
    assert (plan.data_uid, plan.data_gid) == (1999, 1999)
    assert plan.mounts == (
        MountSpec(str(STORE), "/mnt/models", True),
        MountSpec(str(APPS_DIR / "pai-comfyui"), "/mnt/comfyui", False),
    )
    assert plan.env["COMFYUI_BASE_DIR"] == "/mnt/comfyui"


def test_pai_comfyui_xpu_on_intel(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["pai-comfyui"], INTEL_BOX, SETTINGS)
    assert (plan.variant, plan.accel) == ("xpu", Accel.INTEL)
    assert plan.image == "ghcr.io/futursolo/pai-apps/comfyui:xpu"
    assert plan.devices == DRI
    assert plan.group_add == (str(VIDEO), str(RENDER))
    assert plan.shm_size == "16G"
    assert plan.security_opt == ("seccomp=unconfined",)


def test_pai_ollama_intel(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["pai-ollama-intel"], INTEL_BOX, SETTINGS)
    assert plan.variant == "intel"
    assert plan.devices == DRI
    assert plan.group_add == (str(VIDEO), str(RENDER))
    assert plan.shm_size == "16G"
    assert plan.entrypoint == ("/bin/ollama",) and plan.command == ("serve",)
    assert plan.env["ZES_ENABLE_SYSMAN"] == "1"
    assert plan.env["SYCL_PI_LEVEL_ZERO_USE_IMMEDIATE_COMMANDLISTS"] == "1"
    assert plan.env["ONEAPI_DEVICE_SELECTOR"] == "level_zero:0"
    assert plan.env["OLLAMA_HOST"] == "0.0.0.0:11434"
    assert plan.ports == (PortBinding(11434, "127.0.0.1", 11434),)
    assert any("legacy" in w for w in plan.warnings)


def test_pai_ollama_intel_under_wsl2_is_privileged_with_usr_lib_wsl(apps: dict[str, App]) -> None:
    wsl = HardwareReport(
        gpus=(INTEL,),
        ranking=(Accel.INTEL, Accel.CPU),
        render_gid=RENDER,
        video_gid=VIDEO,
        wsl2=True,
    )
    plan = plan_launch(apps["pai-ollama-intel"], wsl, SETTINGS)
    assert plan.privileged
    assert MountSpec("/usr/lib/wsl", "/usr/lib/wsl", False) in plan.mounts
    assert any("WSL2" in w for w in plan.warnings)
    # Not on WSL2: never privileged.
    assert not plan_launch(apps["pai-ollama-intel"], INTEL_BOX, SETTINGS).privileged


def test_sd_webui_rx5500_rocm(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["sd-webui-rx5500"], AMD_BOX, SETTINGS)
    assert plan.variant == "rocm"
    assert plan.image == "setsoft/sd_webui:latest"
    assert plan.ipc_mode == "host"
    assert plan.cap_add == ("SYS_PTRACE",)
    assert plan.security_opt == ("seccomp=unconfined",)
    assert plan.devices == KFD_DRI
    assert plan.group_add == (str(VIDEO), str(RENDER))
    # entrypoint.sh rewrites gid 105 to $RENDER_GID: it must be the host's numeric render gid.
    assert plan.env["RENDER_GID"] == str(RENDER)
    assert plan.env["LD_PRELOAD"] == "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
    assert plan.data_dir == str(APPS_DIR / "sd-webui-rx5500")
    assert (plan.data_uid, plan.data_gid) == (1000, 1000)
    assert MountSpec(str(APPS_DIR / "sd-webui-rx5500"), "/dockerx", False) in plan.mounts
    assert "--medvram" in (plan.command or ()) and "--listen" in (plan.command or ())
    low = plan_launch(
        apps["sd-webui-rx5500"], AMD_BOX, SETTINGS, LaunchChoices(variant="rocm-lowvram")
    )
    assert "--lowvram" in (low.command or ())


def test_rocm_single_gpu_maps_only_its_nodes(apps: dict[str, App]) -> None:
    plan = plan_launch(
        apps["sd-webui-rx5500"], AMD_BOX, SETTINGS, LaunchChoices(gpu="0000:03:00.0")
    )
    assert plan.devices == (
        DeviceMapping("/dev/kfd", "/dev/kfd"),
        DeviceMapping("/dev/dri/card1", "/dev/dri/card1"),
        DeviceMapping("/dev/dri/renderD129", "/dev/dri/renderD129"),
    )
    with pytest.raises(PlanError, match="not found"):
        plan_launch(apps["sd-webui-rx5500"], AMD_BOX, SETTINGS, LaunchChoices(gpu="0000:99:00.0"))


def test_variant_with_all_gpus_false_takes_the_best_discrete_gpu(apps: dict[str, App]) -> None:
    base = apps["sd-webui-rx5500"]
    single = base.model_copy(
        update={"variants": {"rocm": base.variants["rocm"].model_copy(update={"all_gpus": False})}}
    )
    plan = plan_launch(single, AMD_BOX, SETTINGS)
    assert [d.host for d in plan.devices] == ["/dev/kfd", "/dev/dri/card1", "/dev/dri/renderD129"]


def _ai_runner_choices() -> LaunchChoices:
    return LaunchChoices(model_id="stabilityai/sd-turbo", env={"PIPELINE": "text-to-image"})


def test_ai_runner_cuda_with_the_nvidia_runtime(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["livepeer-ai-runner"], NV_RUNTIME, SETTINGS, _ai_runner_choices())
    assert (plan.variant, plan.image) == ("cuda", "livepeer/ai-runner:latest")
    assert plan.device_requests == (GpuRequest("nvidia", -1, (), (("gpu",),)),)
    assert plan.devices == () and plan.group_add == ()
    assert plan.env["PIPELINE"] == "text-to-image"
    assert plan.env["MODEL_ID"] == "stabilityai/sd-turbo"
    assert plan.ports == (PortBinding(8000, "127.0.0.1", 8000),)
    assert MountSpec(str(STORE), "/mnt/models", True) in plan.mounts
    assert MountSpec(str(APPS_DIR / "livepeer-ai-runner"), "/models", False) in plan.mounts
    # One chosen GPU: its index in PCI bus order (NV1 sits on bus 02, after NV0 on bus 01).
    one = plan_launch(
        apps["livepeer-ai-runner"],
        NV_RUNTIME,
        SETTINGS,
        LaunchChoices(model_id="a/b", env={"PIPELINE": "llm"}, gpu="0000:02:00.0"),
    )
    assert one.device_requests == (GpuRequest("nvidia", None, ("1",), (("gpu",),)),)


def test_ai_runner_cuda_with_cdi(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["livepeer-ai-runner"], NV_CDI, SETTINGS, _ai_runner_choices())
    assert plan.device_requests == (GpuRequest("cdi", None, ("nvidia.com/gpu=all",), ()),)


def test_ai_runner_needs_pipeline_and_model_id(apps: dict[str, App]) -> None:
    with pytest.raises(PlanError, match="Hugging Face"):
        plan_launch(apps["livepeer-ai-runner"], NV_RUNTIME, SETTINGS)
    with pytest.raises(PlanError, match="PIPELINE") as err:
        plan_launch(apps["livepeer-ai-runner"], NV_RUNTIME, SETTINGS, LaunchChoices(model_id="a/b"))
    assert err.value.fix and "text-to-image" in err.value.fix
    llm = plan_launch(
        apps["livepeer-ai-runner"],
        NV_RUNTIME,
        SETTINGS,
        LaunchChoices(variant="cuda-llm", model_id="meta-llama/Llama-3.1-8B-Instruct"),
    )
    assert llm.env["PIPELINE"] == "llm" and llm.env["GPU_MEMORY_UTILIZATION"] == "0.85"


def test_runai_cuda(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["runai"], NV_RUNTIME, SETTINGS, LaunchChoices(source_dir="/src/runai"))
    assert plan.variant == "cuda"
    assert plan.local_build
    assert plan.device_requests == (GpuRequest("nvidia", -1, (), (("gpu",),)),)
    assert plan.ports == (PortBinding(50006, "127.0.0.1", 50006),)
    assert plan.user == "root"
    assert plan.command is not None and "50006" in plan.command
    assert plan.env["NVIDIA_VISIBLE_DEVICES"] == "all"


def test_taken_port_moves_with_a_warning(apps: dict[str, App]) -> None:
    plan = plan_launch(
        apps["pai-comfyui"],
        AMD_BOX,
        SETTINGS.with_changes(bind_address="0.0.0.0"),
        taken_ports={8188, 8189},
    )
    assert plan.ports == (PortBinding(8188, "0.0.0.0", 8190),)
    assert any("8188" in w and "8190" in w for w in plan.warnings)
    with pytest.raises(PlanError, match="in use"):
        plan_launch(
            apps["pai-comfyui"],
            AMD_BOX,
            SETTINGS,
            LaunchChoices(host_port=9000),
            taken_ports={9000},
        )


def test_no_fitting_variant_says_why(apps: dict[str, App]) -> None:
    cpu_box = HardwareReport(ranking=(Accel.CPU,))
    with pytest.raises(
        PlanError, match=r"offers rocm \(rocm\), vulkan \(vulkan\); usable here: cpu"
    ):
        choose_variant(apps["pai-koboldcpp"], cpu_box)
    with pytest.raises(PlanError, match="no variant 'cuda'"):
        choose_variant(apps["pai-koboldcpp"], AMD_BOX, "cuda")


def test_env_merges_app_then_variant_then_choices(apps: dict[str, App]) -> None:
    plan = plan_launch(
        apps["livepeer-ai-runner"],
        NV_RUNTIME,
        SETTINGS,
        LaunchChoices(variant="cuda-llm", model_id="a/b", env={"TENSOR_PARALLEL_SIZE": "2"}),
    )
    assert plan.env["MAX_WORKERS"] == "1"  # app
    assert plan.env["PIPELINE"] == "llm"  # variant
    assert plan.env["TENSOR_PARALLEL_SIZE"] == "2"  # choice over variant


def test_every_catalog_app_and_variant_plans_with_the_device_rules(apps: dict[str, App]) -> None:
    everything = HardwareReport(
        gpus=(AMD, INTEL, NV0),
        ranking=tuple(Accel),
        render_gid=RENDER,
        video_gid=VIDEO,
        kfd_present=True,
        docker=DockerFacts(reachable=True, nvidia_runtime=True),
    )
    choices = LaunchChoices(model_file="m.gguf", model_id="a/b", env={"PIPELINE": "llm"})
    planned = 0
    for app in apps.values():
        for name in app.variants:
            fmt = app.needs.model_file[0] if app.needs.model_file else "gguf"
            plan = plan_launch(
                app,
                everything,
                SETTINGS,
                LaunchChoices(
                    variant=name,
                    model_file=f"m.{fmt}" if app.mounts.models else None,
                    model_id=choices.model_id,
                    source_dir="/src/app" if app.variants[name].build else None,
                    # A variant that serves only some pipelines gets one of its own.
                    env={
                        **choices.env,
                        **{k: v[0] for k, v in app.variants[name].serves.items()},
                    },
                ),
            )
            hosts = {d.host for d in plan.devices}
            if plan.accel == Accel.ROCM:
                assert {"/dev/kfd", "/dev/dri"} <= hosts, (app.id, name)
            elif plan.accel in (Accel.INTEL, Accel.VULKAN):
                assert "/dev/dri" in hosts and "/dev/kfd" not in hosts, (app.id, name)
            else:
                assert not hosts, (app.id, name)
            if plan.accel in (Accel.ROCM, Accel.INTEL, Accel.VULKAN):
                assert plan.group_add == (str(VIDEO), str(RENDER)), (app.id, name)
            # Vulkan also gets the NVIDIA GPU (graphics capability): the box has the runtime.
            wants_nvidia = plan.accel in (Accel.CUDA, Accel.VULKAN)
            assert wants_nvidia == bool(plan.device_requests), (app.id, name)
            if plan.accel == Accel.VULKAN:
                assert "graphics" in plan.device_requests[0].capabilities[0], (app.id, name)
            assert plan.labels["paitui.managed"] == "true"
            for text in (*(plan.command or ()), *(plan.entrypoint or ()), *plan.env.values()):
                assert "{model" not in text and "{port}" not in text, (app.id, name, text)
            planned += 1
    assert planned >= 30
