"""Pai's optional settings (README "Permissions and Capabilities": ``seccomp:unconfined`` and
``shm_size: 16G``) are planned as each app's own docker-compose.example.yml does, and where the
catalog departs from the example or leaves a README option out, its notes say so."""

from __future__ import annotations

import pytest

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.files import bundled_catalog_path
from paitui.services.catalog.loader import load_file
from tests.engine.test_planner import AMD_BOX, INTEL_BOX, SETTINGS

SECCOMP = "seccomp=unconfined"
README_SHM = "16G"
#: (app, variant) -> (seccomp unconfined?, shm_size), read from futursolo/pai
#: apps/<app>/<variant>/docker-compose.example.yml (@0bb902e; ollama @9582127^).
EXAMPLES: dict[tuple[str, str], tuple[bool, str | None]] = {
    ("pai-koboldcpp", "rocm"): (True, None),
    ("pai-koboldcpp", "vulkan"): (True, None),
    ("pai-comfyui", "rocm"): (True, None),
    ("pai-comfyui", "xpu"): (True, "16G"),
    ("pai-ollama-intel", "intel"): (False, "16G"),
}
BOXES: dict[str, HardwareReport] = {
    "rocm": AMD_BOX,
    "vulkan": AMD_BOX,
    "xpu": INTEL_BOX,
    "intel": INTEL_BOX,
}


@pytest.fixture(scope="module")
def apps() -> dict[str, App]:
    return {a.id: a for a in load_file(bundled_catalog_path())[0]}


def test_every_pai_variant_is_checked(apps: dict[str, App]) -> None:
    pai = {
        (app.id, name)
        for app in apps.values()
        for name, v in app.variants.items()
        if v.image.startswith("ghcr.io/futursolo/pai-apps/")
    }
    assert pai == set(EXAMPLES)


@pytest.mark.parametrize(("app_id", "variant"), sorted(EXAMPLES))
def test_pai_options_follow_the_example_or_say_why(
    apps: dict[str, App], app_id: str, variant: str
) -> None:
    seccomp, shm = EXAMPLES[(app_id, variant)]
    choices = LaunchChoices(variant=variant, model_file="q.gguf" if "kobold" in app_id else None)
    plan = plan_launch(apps[app_id], BOXES[variant], SETTINGS, choices)
    notes = apps[app_id].variants[variant].notes
    planned_seccomp = SECCOMP in plan.security_opt
    # Where the plan departs from the example, or a README option is left out, notes say so.
    if planned_seccomp != seccomp or not planned_seccomp:
        assert "seccomp" in notes, (app_id, variant, notes)
    if plan.shm_size != shm or plan.shm_size is None:
        assert "shm_size" in notes, (app_id, variant, notes)
    # Only the README's own values, never another.
    assert plan.shm_size in (None, README_SHM)
    assert set(plan.security_opt) <= {SECCOMP}
