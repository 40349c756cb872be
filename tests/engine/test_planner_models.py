"""The planner points each app at the store layout it reads (catalog ``mounts.models.layout``)."""

from __future__ import annotations

import itertools
from pathlib import Path

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.loader import load_file
from paitui.settings import Settings
from tests.conftest import REPO_ROOT

STORE = Path("/srv/models")
SETTINGS = Settings(models_dir=STORE, apps_dir=Path("/srv/apps"))
BOX = HardwareReport(render_gid=993, video_gid=44)


def _app(app_id: str) -> App:
    apps, issues = load_file(REPO_ROOT / "catalog.yml")
    assert not issues
    return next(a for a in apps if a.id == app_id)


def test_comfyui_gets_the_extra_model_paths_file_and_a_views_refresh() -> None:
    app = _app("pai-comfyui")
    plan = plan_launch(app, BOX, SETTINGS, LaunchChoices(variant="rocm"))
    assert plan.command == (
        "--extra-model-paths-config",
        "/mnt/models/.paitui-views/comfyui.yaml",
    )
    assert plan.models_views == str(STORE)


def test_user_arguments_come_after_the_models_arguments() -> None:
    app = _app("pai-comfyui")
    plan = plan_launch(app, BOX, SETTINGS, LaunchChoices(variant="rocm", extra_args=("--cpu",)))
    assert plan.command is not None and plan.command[-1] == "--cpu"
    assert plan.command[:2] == (
        "--extra-model-paths-config",
        "/mnt/models/.paitui-views/comfyui.yaml",
    )


def test_a1111_takes_the_typed_folders_by_flag() -> None:
    app = _app("sd-webui-rx5500")
    for variant in app.variants:
        plan = plan_launch(app, BOX, SETTINGS, LaunchChoices(variant=variant))
        command = list(plan.command or ())
        flags = dict(itertools.pairwise(command))
        assert flags["--ckpt-dir"] == "/models-ro/.paitui-views/by-kind/checkpoints"
        assert flags["--lora-dir"] == "/models-ro/.paitui-views/by-kind/loras"
        assert flags["--vae-dir"] == "/models-ro/.paitui-views/by-kind/vae"
        assert command[1] == "/opt/stable-diffusion-webui/launch.py"  # appended, not replaced


def test_hf_cache_apps_read_the_view_offline_and_the_user_can_override() -> None:
    app = _app("vllm")
    variant = next(iter(app.variants))
    choices = LaunchChoices(variant=variant, model_id="org/model")
    plan = plan_launch(app, BOX, SETTINGS, choices)
    assert plan.env["HF_HUB_CACHE"] == "/mnt/models/.paitui-views/hf"
    assert plan.env["HF_HUB_OFFLINE"] == "1"
    assert plan.models_views == str(STORE)
    online = LaunchChoices(variant=variant, model_id="org/model", env={"HF_HUB_OFFLINE": "0"})
    assert plan_launch(app, BOX, SETTINGS, online).env["HF_HUB_OFFLINE"] == "0"


def test_apps_that_take_one_file_need_no_views() -> None:
    app = _app("llama-cpp-server")
    variant = next(iter(app.variants))
    choices = LaunchChoices(variant=variant, model_file="org/repo/m.gguf")
    assert plan_launch(app, BOX, SETTINGS, choices).models_views is None
