"""RunAI is build-only: paitui builds its image from the user's checkout, mounts the checkout at
/app and /home as the seed does, exports a compose ``build:`` section, and says what it cannot do.

The build tests are real: a tiny Dockerfile FROM the local busybox image, built by the engine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from paitui.domain.catalog.schema import App
from paitui.domain.engine.errors import EngineError
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import DockerFacts, HardwareReport
from paitui.domain.launch.export import compose_text, plan_from_compose, run_line
from paitui.domain.launch.plan import ImageBuild, LaunchChoices, MountSpec
from paitui.domain.launch.planner import PlanError, plan_launch
from paitui.services.catalog.files import bundled_catalog_path
from paitui.services.catalog.loader import load_file
from paitui.services.engine.build import BuildProgress
from paitui.services.engine.client import Engine
from paitui.settings import Settings
from tests.helpers import wait_until

SETTINGS = Settings(models_dir=Path("/srv/models"), apps_dir=Path("/srv/apps"))
NV = HardwareReport(
    ranking=(Accel.CUDA, Accel.CPU), docker=DockerFacts(reachable=True, nvidia_runtime=True)
)


@pytest.fixture(scope="module")
def runai() -> App:
    loaded, issues = load_file(bundled_catalog_path())
    assert not issues, [str(i) for i in issues]
    return next(a for a in loaded if a.id == "runai")


def test_runai_needs_its_source_and_says_where_to_get_it(runai: App) -> None:
    with pytest.raises(PlanError) as err:
        plan_launch(runai, NV, SETTINGS)
    assert err.value.fix is not None
    assert "--source DIR" in err.value.fix and "airunner_nexus" in err.value.fix
    with pytest.raises(PlanError, match="not an absolute path"):
        plan_launch(runai, NV, SETTINGS, LaunchChoices(source_dir="runai"))


def test_runai_mounts_what_the_seed_mounts(runai: App) -> None:
    plan = plan_launch(runai, NV, SETTINGS, LaunchChoices(source_dir="/src/runai"))
    assert plan.build == ImageBuild("/src/runai", "Dockerfile")
    assert plan.local_build and plan.image == "runaiserver:latest"
    # compose: ./:/app with working_dir /app; README: -v /home:/home for client model paths.
    assert MountSpec("/src/runai", "/app", False) in plan.mounts
    assert MountSpec("/home", "/home", True) in plan.mounts
    assert MountSpec("/srv/models", "/root/stablediffusion", True) in plan.mounts
    assert plan.working_dir == "/app"
    assert plan.command is not None and plan.command[:2] == ("python3", "server.py")
    said = " | ".join(plan.warnings)
    assert "/src/runai" in said and "does not fetch" in said and "not HTTP" in said


def test_the_compose_export_builds_and_parses_back(runai: App) -> None:
    plan = plan_launch(runai, NV, SETTINGS, LaunchChoices(source_dir="/src/runai"))
    text = compose_text(plan)
    svc = yaml.safe_load(text)["services"]["runai"]
    assert svc["build"] == {"context": "/src/runai", "dockerfile": "Dockerfile"}
    assert svc["image"] == "runaiserver:latest" and svc["working_dir"] == "/app"
    assert "# note: paitui cannot check that it answers" in text
    assert plan_from_compose(text) == dataclasses.replace(plan, warnings=())
    # Compose's short form, ``build: DIR``, reads back too.
    short = text.replace(
        "    build:\n      context: /src/runai\n      dockerfile: Dockerfile\n", "    build: /x\n"
    )
    assert plan_from_compose(short).build == ImageBuild("/x")
    lines = run_line(plan).splitlines()
    assert shlex.split(lines[-2]) == [
        "docker",
        "build",
        "-t",
        "runaiserver:latest",
        "-f",
        "/src/runai/Dockerfile",
        "/src/runai",
    ]
    assert "--workdir" in shlex.split(lines[-1])


# -- real builds ---------------------------------------------------------------------------------


def _app(app_id: str, image: str) -> App:
    """A build-only stand-in: runs the checkout's script from the mounted source tree."""
    return App.model_validate(
        {
            "id": app_id,
            "name": app_id,
            "description": "build-only stand-in",
            "kind": "other",
            "variants": {
                "cpu": {
                    "image": image,
                    "build": {"source_mount": "/app", "working_dir": "/app"},
                }
            },
            "entrypoint": ["/bin/sh", "-c"],
            "command": ["cat /baked; sh ./server.sh; sleep 600"],
        }
    )


@pytest.fixture
def source(tmp_path: Path, busybox_image: str) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Dockerfile").write_text(
        f"FROM {busybox_image}\nRUN echo baked-in > /baked\nLABEL paitui.test=build\n"
    )
    (src / "server.sh").write_text("echo served-from-the-checkout\n")
    return src


@pytest.fixture
def built(docker_client: Any) -> Iterator[list[str]]:
    """Containers and images a test made, removed whatever happened."""
    made: list[str] = []
    yield made
    for name in made:
        with contextlib.suppress(Exception):
            docker_client.containers.get(name).remove(force=True)
    for name in made:
        with contextlib.suppress(Exception):
            docker_client.images.remove(name, force=True)


@pytest.mark.docker
def test_a_real_build_streams_progress_then_launches_with_the_checkout(
    source: Path, built: list[str], docker_client: Any, tmp_path: Path
) -> None:
    tag = f"paitest/build-{uuid.uuid4().hex[:8]}:latest"
    app = _app(f"b{uuid.uuid4().hex[:8]}", tag)
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    plan = plan_launch(
        app, HardwareReport(ranking=(Accel.CPU,)), settings, LaunchChoices(source_dir=str(source))
    )
    built.extend([plan.name, tag])
    engine = Engine(settings)
    seen: list[BuildProgress] = []
    final = engine.build_blocking(plan, seen.append)
    assert final.done and final.image_id and seen[-1] == final
    assert any(p.step == 2 and p.steps == 3 for p in seen), [p.line for p in seen]
    assert docker_client.images.get(tag).labels.get("paitui.test") == "build"
    # A missing image is built on launch too; the container runs the mounted checkout.
    docker_client.images.remove(tag, force=True)
    info = engine.launch_blocking(plan)
    assert info.name == plan.name
    container = docker_client.containers.get(plan.name)

    def served() -> str:
        text: str = container.logs().decode()
        return text if "served-from-the-checkout" in text else ""

    logs = wait_until(served, what="the checkout's script to run")
    assert "baked-in" in logs and "served-from-the-checkout" in logs
    assert container.attrs["Config"]["WorkingDir"] == "/app"


@pytest.mark.docker
def test_a_failing_step_names_the_step_and_tags_nothing(
    source: Path, built: list[str], docker_client: Any, tmp_path: Path
) -> None:
    import docker.errors

    tag = f"paitest/build-{uuid.uuid4().hex[:8]}:latest"
    (source / "Dockerfile").write_text(
        (source / "Dockerfile").read_text().replace("RUN echo", f"RUN false && echo {tag} &&")
    )
    built.append(tag)
    plan = plan_launch(
        _app("bad", tag),
        HardwareReport(ranking=(Accel.CPU,)),
        SETTINGS,
        LaunchChoices(source_dir=str(source)),
    )
    with pytest.raises(EngineError) as err:
        Engine(SETTINGS).build_blocking(plan)
    assert "step 2/3" in err.value.message and err.value.fix and str(source) in err.value.fix
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(tag)
    # The failed step's container is removed too (forcerm): nothing is left half-made.
    left = [
        c.id
        for c in docker_client.containers.list(all=True)
        if tag in " ".join(c.attrs["Config"].get("Cmd") or ())
    ]
    assert not left
    empty = dataclasses.replace(plan, build=ImageBuild(str(source / "nothing")))
    with pytest.raises(EngineError, match="does not exist"):
        Engine(SETTINGS).build_blocking(empty)


@pytest.mark.docker
def test_cli_start_builds_with_progress_and_compose_needs_a_real_source(
    source: Path, built: list[str], tmp_path: Path
) -> None:
    app_id = f"b{uuid.uuid4().hex[:8]}"
    tag = f"paitest/build-{app_id}:latest"
    built.extend([f"paitui-{app_id}", tag])
    entry = _app(app_id, tag).model_dump(mode="json", exclude_defaults=True)
    catalog = tmp_path / "catalog.yml"
    catalog.write_text(yaml.safe_dump({"apps": [entry]}))
    env = {
        **os.environ,
        "PAITUI_CATALOG": str(catalog),
        "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
        "PAITUI_STATE_DIR": str(tmp_path / "state"),
        "PAITUI_APPS_DIR": str(tmp_path / "apps"),
        "PAITUI_MODELS_DIR": str(tmp_path / "models"),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paitui", *args],
            env=env,
            text=True,
            capture_output=True,
            timeout=120,
        )

    missing = cli("compose", app_id, "--no-hw", "--source", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "--source DIR" in missing.stderr
    compose = cli("compose", app_id, "--no-hw", "--source", str(source))
    assert compose.returncode == 0, compose.stderr
    assert yaml.safe_load(compose.stdout)["services"][app_id]["build"]["context"] == str(source)
    started = cli("start", app_id, "--no-hw", "--source", str(source))
    assert started.returncode == 0, started.stderr
    assert f"building {tag}: [2/3]" in started.stderr
    assert f"started {app_id}" in started.stdout
