"""Run options are declared once (``RunOptions``) and merged by one rule: every combination of an
app's and a variant's option, each set or not, planned and compared with the rule."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from paitui.domain.catalog.schema import App, RunOptions, Variant
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.planner import plan_launch
from paitui.settings import Settings

#: Two valid values of each option: the app's and the variant's.
VALUES: dict[str, tuple[Any, Any]] = {
    "env": ({"A": "app", "SHARED": "app"}, {"B": "variant", "SHARED": "variant"}),
    "entrypoint": (["/bin/app"], ["/bin/variant"]),
    "command": (["app-arg"], ["variant-arg"]),
    "user": ("1000:1000", "2000:2000"),
    "shm_size": ("1g", "2g"),
    "ipc": ("host", "private"),
}
#: Where each option lands in the plan.
PLANNED = {
    "env": "env",
    "entrypoint": "entrypoint",
    "command": "command",
    "user": "user",
    "shm_size": "shm_size",
    "ipc": "ipc_mode",
}


def test_app_and_variant_share_one_declaration() -> None:
    assert set(VALUES) == set(RunOptions.model_fields)
    for model in (App, Variant):
        for name, field in RunOptions.model_fields.items():
            assert model.model_fields[name].annotation == field.annotation, (model, name)


def expected(name: str, on_app: bool, on_variant: bool) -> Any:
    app_value, variant_value = VALUES[name]
    if name == "env":
        return {**(app_value if on_app else {}), **(variant_value if on_variant else {})}
    value = variant_value if on_variant else app_value if on_app else None
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize("name", sorted(VALUES))
@pytest.mark.parametrize(("on_app", "on_variant"), list(itertools.product([False, True], repeat=2)))
def test_the_variant_overrides_the_app_option_by_option(
    name: str, on_app: bool, on_variant: bool
) -> None:
    app_value, variant_value = VALUES[name]
    variant: dict[str, Any] = {"image": "example.org/x:1"}
    entry: dict[str, Any] = {
        "id": "merge",
        "name": "Merge",
        "description": "d",
        "kind": "other",
        "variants": {"cpu": variant},
    }
    if on_app:
        entry[name] = app_value
    if on_variant:
        variant[name] = variant_value
    app = App.model_validate(entry)
    want = expected(name, on_app, on_variant)
    assert getattr(app.merged(app.variants["cpu"]), name) == want
    plan = plan_launch(app, HardwareReport(), Settings())
    planned = getattr(plan, PLANNED[name])
    if name == "env":
        assert dict(planned) == want
    else:
        assert planned == want
