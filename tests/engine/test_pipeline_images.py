"""ai-runner: the PIPELINE decides the image (each pipeline image carries its own dependencies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import DockerFacts, Gpu, HardwareReport, Vendor
from paitui.domain.launch.plan import LaunchChoices
from paitui.domain.launch.planner import PlanError, plan_launch
from paitui.services.catalog.files import bundled_catalog_path
from paitui.services.catalog.loader import load_file
from paitui.settings import Settings

SETTINGS = Settings(models_dir=Path("/srv/models"), apps_dir=Path("/srv/apps"))
NV = HardwareReport(
    gpus=(
        Gpu(
            vendor=Vendor.NVIDIA,
            pci_id="10de:2684",
            pci_slot="0000:01:00.0",
            name="RTX 4090",
            vram_total=24 * 1024**3,
            driver="nvidia",
            card_node="/dev/dri/card0",
            render_node="/dev/dri/renderD128",
        ),
    ),
    ranking=(Accel.CUDA, Accel.CPU),
    docker=DockerFacts(reachable=True, nvidia_runtime=True),
)
# The tags upstream's batch-pipelines workflow pushes (Dockerfile.<suffix>, "_" read as "-").
OWN_TAG = {
    "llm": "livepeer/ai-runner:llm",
    "audio-to-text": "livepeer/ai-runner:audio-to-text",
    "segment-anything-2": "livepeer/ai-runner:segment-anything-2",
    "text-to-speech": "livepeer/ai-runner:text-to-speech",
    "text-to-image": "livepeer/ai-runner:latest",
    "image-to-image": "livepeer/ai-runner:latest",
    "image-to-video": "livepeer/ai-runner:latest",
    "upscale": "livepeer/ai-runner:latest",
    "image-to-text": "livepeer/ai-runner:latest",
}


@pytest.fixture(scope="module")
def runner() -> App:
    loaded, issues = load_file(bundled_catalog_path())
    assert not issues, [str(i) for i in issues]
    return next(a for a in loaded if a.id == "livepeer-ai-runner")


@pytest.mark.parametrize("pipeline", sorted(OWN_TAG))
def test_the_pipeline_picks_its_own_image(runner: App, pipeline: str) -> None:
    plan = plan_launch(
        runner, NV, SETTINGS, LaunchChoices(model_id="a/b", env={"PIPELINE": pipeline})
    )
    assert plan.image == OWN_TAG[pipeline]
    assert plan.env["PIPELINE"] == pipeline


@pytest.mark.parametrize(
    "pipeline", ["llm", "audio-to-text", "segment-anything-2", "text-to-speech"]
)
def test_an_explicit_mismatch_is_refused_naming_the_right_variant(
    runner: App, pipeline: str
) -> None:
    with pytest.raises(PlanError) as err:
        plan_launch(
            runner,
            NV,
            SETTINGS,
            LaunchChoices(variant="cuda", model_id="a/b", env={"PIPELINE": pipeline}),
        )
    right = next(n for n, v in runner.variants.items() if v.image == OWN_TAG[pipeline])
    assert "livepeer/ai-runner:latest" in str(err.value) and pipeline in str(err.value)
    assert err.value.fix is not None
    assert f"--variant {right}" in err.value.fix and OWN_TAG[pipeline] in err.value.fix


def test_a_pipeline_image_refuses_another_pipeline(runner: App) -> None:
    with pytest.raises(PlanError) as err:
        plan_launch(
            runner,
            NV,
            SETTINGS,
            LaunchChoices(variant="cuda-llm", model_id="a/b", env={"PIPELINE": "text-to-image"}),
        )
    assert err.value.fix is not None and "--variant cuda " in err.value.fix + " "


def test_an_unknown_pipeline_is_refused_with_the_choices(runner: App) -> None:
    with pytest.raises(PlanError) as err:
        plan_launch(
            runner, NV, SETTINGS, LaunchChoices(model_id="a/b", env={"PIPELINE": "text2img"})
        )
    assert err.value.fix is not None and "text-to-image" in err.value.fix


CATALOG_HEAD = """\
apps:
  - id: x
    name: X
    description: d
    kind: llm
    needs: {env: [PIPELINE], choices: {PIPELINE: [a, b]}}
    variants:
      cuda:
        image: x:1
"""


@pytest.mark.parametrize(
    ("variant_tail", "message"),
    [
        ("        serves: {MODE: [a]}\n", "MODE is not in needs.choices"),
        ("        serves: {PIPELINE: [c]}\n", "c not in needs.choices.PIPELINE"),
        ("        serves: {PIPELINE: [a]}\n        env: {PIPELINE: b}\n", "PIPELINE=b"),
    ],
)
def test_serves_is_checked_against_the_choices(
    tmp_path: Path, variant_tail: str, message: str
) -> None:
    path = tmp_path / "catalog.yml"
    path.write_text(CATALOG_HEAD + variant_tail)
    apps, issues = load_file(path)
    assert not apps
    assert any(message in str(i) for i in issues), [str(i) for i in issues]
