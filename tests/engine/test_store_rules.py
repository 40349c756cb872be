"""The catalog check and the planner refuse every way a container could write the models store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from paitui.domain.catalog.schema import App, ModelsMount
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.planner import PlanError, plan_launch
from paitui.domain.models.store_rules import overlaps
from paitui.services.catalog.loader import load_file
from paitui.settings import Settings


def _entry(**mounts: Any) -> dict[str, Any]:
    variant: dict[str, Any] = {"image": "example/app:1"}
    if "extra" in mounts:
        variant["extra_mounts"] = mounts.pop("extra")
    return {
        "id": "app",
        "name": "App",
        "description": "an app",
        "kind": "other",
        "variants": {"cpu": variant},
        "mounts": mounts,
    }


def _issues(tmp_path: Path, entry: dict[str, Any]) -> list[str]:
    path = tmp_path / "catalog.yml"
    path.write_text(yaml.safe_dump({"apps": [entry]}))
    apps, issues = load_file(path)
    assert not apps or not issues
    return [str(i) for i in issues]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("/a", "/a", True),
        ("/a", "/a/b", True),
        ("/a/b/", "/a", True),
        ("/a", "/ab", False),
        ("/mnt/models", "/mnt/comfyui", False),
    ],
)
def test_overlaps(a: str, b: str, expected: bool) -> None:
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected


def test_a_writable_store_is_rejected_with_what_to_do(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path, _entry(models={"path": "/models", "read_only": False}))
    assert "models store is always mounted read-only" in issue
    assert "data dir" in issue


@pytest.mark.parametrize(
    "mounts",
    [
        {"models": {"path": "/data/models"}, "data": {"path": "/data"}},
        {"models": {"path": "/data"}, "data": {"path": "/data/app"}},
        {"models": {"path": "/data"}, "data": {"path": "/data"}},
        {"models": {"path": "/models"}, "extra": ["/srv/x:/models/cache"]},
    ],
)
def test_a_store_overlapping_a_writable_mount_is_rejected(
    tmp_path: Path, mounts: dict[str, Any]
) -> None:
    [issue] = _issues(tmp_path, _entry(**mounts))
    assert "overlaps the writable mount" in issue


def test_a_read_only_extra_mount_beside_the_store_is_fine(tmp_path: Path) -> None:
    assert (
        _issues(tmp_path, _entry(models={"path": "/models"}, extra=["/srv/x:/models/x:ro"])) == []
    )


def test_the_planner_refuses_a_store_inside_a_data_dir_on_the_host(tmp_path: Path) -> None:
    app = App.model_validate(_entry(models={"path": "/models"}, data={"path": "/data"}))
    apps_dir = tmp_path / "apps"
    settings = Settings(models_dir=apps_dir / "app" / "models", apps_dir=apps_dir)
    with pytest.raises(PlanError, match="overlaps the models store"):
        plan_launch(app, HardwareReport(), settings)


def test_the_store_is_mounted_read_only_even_for_an_entry_built_in_code(tmp_path: Path) -> None:
    app = App.model_validate(_entry(models={"path": "/models"}, data={"path": "/data"}))
    # Skips validation, as code building an App by hand could: the planner still says read-only.
    writable = ModelsMount.model_construct(path="/models", formats=(), read_only=False)
    app = app.model_copy(update={"mounts": app.mounts.model_copy(update={"models": writable})})
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    plan = plan_launch(app, HardwareReport(), settings)
    assert [
        (m.target, m.read_only) for m in plan.mounts if m.source == str(settings.models_dir)
    ] == [("/models", True)]


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"path": "/models", "layout": "links"}, "needs mounts.models.links_dir"),
        ({"path": "/models", "layout": "links", "links_dir": "/elsewhere"}, "must be inside"),
        ({"path": "/models", "links_dir": "/data/m"}, "only for layout: links"),
    ],
)
def test_links_need_a_folder_inside_the_data_dir(
    tmp_path: Path, models: dict[str, Any], message: str
) -> None:
    [issue] = _issues(tmp_path, _entry(models=models, data={"path": "/data"}))
    assert message in issue
