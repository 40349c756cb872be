"""Compose exports read by the real docker-compose (1.29.2, Debian's package): ``config`` on
every export gives back the plan's own values, ``$`` included."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from paitui.domain.catalog.schema import App
from paitui.domain.launch.export import compose_text, plan_from_compose
from paitui.domain.launch.plan import LaunchPlan, MountSpec
from paitui.services.catalog.files import bundled_catalog_path
from paitui.services.catalog.loader import load_file
from tests.engine.test_export import _cli, _plans

#: Values Compose would interpolate or mangle if written as they are.
DOLLARS = ["pa$word", "$HOME", "${HOME}", "a$$b", "$", "end$", "${UNSET:-x}", "$(id)", "\\$x"]


def _need_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        message = "docker-compose is not installed (run: scripts/test-env.sh up)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def _config(compose: str, text: str, tmp_path: Path) -> str:
    """``docker-compose config`` of one export, with the variables the values name set."""
    path = tmp_path / "docker-compose.yml"
    path.write_text(text)
    env = {"PATH": os.environ["PATH"], "HOME": "/home/someone", "word": "LEAKED", "x": "LEAKED"}
    done = subprocess.run(
        [compose, "--ansi", "never", "-f", str(path), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Compose warns when a value names an unset variable: none may be read as one.
    assert "variable is not set" not in done.stderr, done.stderr
    return done.stdout


def _hostile(plan: LaunchPlan) -> LaunchPlan:
    """The plan with a ``$`` in every kind of value the export writes."""
    return dataclasses.replace(
        plan,
        env={**plan.env, **{f"P{i}": v for i, v in enumerate(DOLLARS)}},
        command=(*(plan.command or ()), *DOLLARS),
        labels={**plan.labels, "note": "pa$word ${HOME}"},
        mounts=(*plan.mounts, MountSpec("/srv/$data", "/in/$HOME", True)),
        data_dir=f"{plan.data_dir}/$x" if plan.data_dir else None,
    )


@pytest.fixture(scope="module")
def apps() -> dict[str, App]:
    return {a.id: a for a in load_file(bundled_catalog_path())[0]}


def test_dollars_round_trip_in_paitui(apps: dict[str, App]) -> None:
    for plan in map(_hostile, _plans(apps)):
        text = compose_text(plan)
        assert "pa$$word" in text and "pa$word" not in text.replace("pa$$word", "")
        assert plan_from_compose(text) == dataclasses.replace(plan, warnings=()), plan.app_id


def _buildable(plan: LaunchPlan, tmp_path: Path) -> LaunchPlan:
    """Compose checks that a build context exists: give a build-only plan a real folder."""
    if plan.build is None:
        return plan
    context = tmp_path / "build-context"
    context.mkdir(exist_ok=True)
    old = plan.build.context
    mounts = tuple(
        dataclasses.replace(m, source=str(context)) if m.source == old else m for m in plan.mounts
    )
    build = dataclasses.replace(plan.build, context=str(context))
    return dataclasses.replace(plan, build=build, mounts=mounts)


def test_docker_compose_config_gives_back_every_export(
    apps: dict[str, App], tmp_path: Path
) -> None:
    compose = _need_compose()
    plans = _plans(apps)
    assert len({p.app_id for p in plans}) >= 6  # every seed app's export, several variants
    for plan in [*plans, *map(_hostile, plans[:4])]:
        plan = _buildable(plan, tmp_path)
        out = _config(compose, compose_text(plan), tmp_path)
        back = plan_from_compose(out)
        assert back == dataclasses.replace(plan, warnings=()), plan.app_id
        assert "LEAKED" not in out and "/home/someone" not in out


def test_cli_compose_with_a_dollar_password_through_docker_compose(tmp_path: Path) -> None:
    # The user's own words: `paitui compose ... --env PW='pa$word'` saved and read by Compose.
    compose = _need_compose()
    out = _cli(
        "compose",
        "pai-koboldcpp",
        "--variant",
        "vulkan",
        "--model",
        "a.gguf",
        "--no-hw",
        "--env",
        "PW=pa$word",
        "--arg=--password",
        "--arg=pa$word",
    )
    assert out.returncode == 0, out.stderr
    back = plan_from_compose(_config(compose, out.stdout, tmp_path))
    assert back.env["PW"] == "pa$word"
    assert (back.command or ())[-2:] == ("--password", "pa$word")
