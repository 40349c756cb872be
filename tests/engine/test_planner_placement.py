"""Placement in the plan: the projector beside a GGUF goes with it by the app's flag, shard 1 is
what the app is given, Fooocus gets a config.txt naming the store's folders (written once, never
over the user's), and InvokeAI's store mount stays outside its root."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from paitui.domain.catalog.companions import model_companions, pick_projector
from paitui.domain.catalog.schema import App
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices, SeedFile
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.loader import load_file
from paitui.services.engine.create import write_seed
from paitui.settings import Settings
from tests.conftest import REPO_ROOT

STORE = Path("/srv/models")
SETTINGS = Settings(models_dir=STORE, apps_dir=Path("/srv/apps"))
BOX = HardwareReport(render_gid=993, video_gid=44)
MODEL = "org/vl-GGUF/vl-Q4_K_M.gguf"
PROJ = "org/vl-GGUF/mmproj-vl-f16.gguf"


def _app(app_id: str) -> App:
    apps, issues = load_file(REPO_ROOT / "catalog.yml")
    assert not issues
    return next(a for a in apps if a.id == app_id)


@pytest.mark.parametrize("app_id", ["llama-cpp-server", "pai-koboldcpp"])
def test_the_projector_follows_the_model_on_the_command_line(app_id: str) -> None:
    app = _app(app_id)
    assert app.mounts.models is not None
    target = app.mounts.models.path
    variant = next(iter(app.variants))
    choices = LaunchChoices(variant=variant, model_file=MODEL, projector=PROJ,
                            extra_args=("--mine",))  # fmt: skip
    command = list(plan_launch(app, BOX, SETTINGS, choices).command or ())
    model_at = command.index(f"{target}/{MODEL}")
    mm = command.index("--mmproj")
    assert command[mm + 1] == f"{target}/{PROJ}" and mm > model_at
    assert command[-1] == "--mine"  # the user's own arguments still come last
    # No projector chosen: no flag.
    plain = plan_launch(app, BOX, SETTINGS, LaunchChoices(variant=variant, model_file=MODEL))
    assert "--mmproj" not in (plain.command or ())


def test_koboldcpp_takes_the_projector_in_its_argument_variable() -> None:
    app = _app("koboldcpp")
    for variant in app.variants:
        choices = LaunchChoices(variant=variant, model_file=MODEL, projector=PROJ)
        plan = plan_launch(app, BOX, SETTINGS, choices)
        args = plan.env["KCPP_ARGS"].split()
        assert args[:2] == ["--model", f"/models/{MODEL}"]
        assert args[-2:] == ["--mmproj", f"/models/{PROJ}"]
        assert "--mmproj" not in (plan.command or ())


def test_an_app_without_a_projector_flag_is_warned_not_handed_one() -> None:
    app = _app("localai")
    plan = plan_launch(app, BOX, SETTINGS, LaunchChoices(variant=next(iter(app.variants)),
                                                         projector=PROJ))  # fmt: skip
    assert PROJ not in " ".join([*(plan.command or ()), *plan.env.values()])
    assert any("takes no multimodal projector" in w for w in plan.warnings)


def test_a_projector_outside_the_store_is_refused() -> None:
    from paitui.domain.launch.planner import PlanError

    app = _app("llama-cpp-server")
    for bad in ("/etc/passwd", "org/../../etc/x.gguf"):
        with pytest.raises(PlanError, match="models store"):
            plan_launch(app, BOX, SETTINGS, LaunchChoices(variant="cpu", model_file=MODEL,
                                                          projector=bad))  # fmt: skip


def test_shard_one_and_the_preferred_projector_are_chosen() -> None:
    files = [
        "o/r/big-00001-of-00003.gguf", "o/r/big-00002-of-00003.gguf",
        "o/r/big-00003-of-00003.gguf", "o/r/mmproj-big-f32.gguf", "o/r/mmproj-big-f16.gguf",
        "o/r/mmproj-big-bf16.gguf", "o/r/other/x.gguf",
    ]  # fmt: skip
    for named in files[:3]:
        got = model_companions(named, files)
        assert got.main == "o/r/big-00001-of-00003.gguf" and len(got.shards) == 3
        assert got.projector == "o/r/mmproj-big-f16.gguf"
    # Another folder holds no projector; a projector named itself has none.
    assert model_companions("o/r/other/x.gguf", files).projector is None
    assert model_companions("o/r/mmproj-big-f16.gguf", files).projector is None
    # A projector known by its type only (not named mmproj) counts too; an LLM beside does not.
    typed = ["o/r/m.gguf", "o/r/vision-clip.gguf", "o/r/m2.gguf"]
    kinds = {"o/r/vision-clip.gguf": "projector", "o/r/m2.gguf": "llm"}
    assert model_companions("o/r/m.gguf", typed, kinds).projector == "o/r/vision-clip.gguf"
    assert model_companions("o/r/m.gguf", typed).projector is None
    assert pick_projector([]) is None
    assert pick_projector(["a/mmproj-q8_0.gguf", "a/mmproj-model.gguf"]) == "a/mmproj-q8_0.gguf"
    # Not a GGUF: as it is.
    assert model_companions("o/r/m.safetensors", ["o/r/m.safetensors"]).main == "o/r/m.safetensors"


def test_fooocus_is_given_both_folder_lists_with_its_own_first() -> None:
    app = _app("fooocus")
    plan = plan_launch(app, BOX, SETTINGS, LaunchChoices(variant="cuda"))
    (seed,) = plan.seed_files
    assert seed.host_path == "/srv/apps/fooocus/config.txt"
    assert plan.env["config_path"] == "/content/data/config.txt"
    config = json.loads(seed.content)
    views = "/mnt/models/.paitui-views/by-kind"
    own = "/content/data/models/checkpoints/"
    assert config["path_checkpoints"] == [own, f"{views}/checkpoints"]
    assert config["path_loras"] == ["/content/data/models/loras/", f"{views}/loras"]
    # A path_* variable would replace the list with one folder (Fooocus modules/config.py).
    assert not any(k.startswith("path_") for k in plan.env)
    assert plan.models_views == str(STORE)


def test_a_seed_never_replaces_what_is_there(tmp_path: Path) -> None:
    seed = SeedFile(str(tmp_path / "data" / "config.txt"), '{"a": 1}\n')
    assert write_seed(seed) is True
    assert json.loads(Path(seed.host_path).read_text()) == {"a": 1}
    assert oct(os.stat(seed.host_path).st_mode & 0o777) == "0o644"
    Path(seed.host_path).write_text('{"mine": true}')  # the user edits it
    assert write_seed(SeedFile(seed.host_path, '{"a": 2}')) is False
    assert Path(seed.host_path).read_text() == '{"mine": true}'
    # A link at the path (even dangling) is left alone, never followed.
    link = tmp_path / "data" / "linked.txt"
    link.symlink_to(tmp_path / "elsewhere.txt")
    assert write_seed(SeedFile(str(link), "x")) is False
    assert not (tmp_path / "elsewhere.txt").exists()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["config.txt", "linked.txt"]


def test_invokeai_mounts_the_store_read_only_outside_its_root() -> None:
    app = _app("invokeai")
    assert app.mounts.models is not None and app.mounts.models.importer == "invokeai"
    plan = plan_launch(app, BOX, SETTINGS, LaunchChoices(variant="cuda"))
    store = [m for m in plan.mounts if m.source == str(STORE)]
    assert [(m.target, m.read_only) for m in store] == [("/mnt/models", True)]
    assert not store[0].target.startswith("/invokeai")


def _entry(models: str, data: str = "") -> dict[str, object]:
    import yaml

    text = f"""
id: x
name: X
description: d
kind: llm
variants: {{cpu: {{image: "busybox"}}}}
mounts: {{models: {models}{", data: " + data if data else ""}}}
"""
    loaded: dict[str, object] = yaml.safe_load(text)
    return loaded


@pytest.mark.parametrize(
    ("models", "data", "words"),
    [
        ("{path: /m, projector_env: KCPP_ARGS}", "", "projector_env needs projector_arg"),
        ("{path: /m, seed: {path: /etc/config.txt, content: x}}", "{path: /d}", "inside the data"),
        ("{path: /m, seed: {path: /d, content: x}}", "{path: /d}", "inside the data"),
        ("{path: /m, seed: {path: /d/c, content: x}}", "", "inside the data"),
        ("{path: /m, seed: {path: /d/c, content: '{nope}'}}", "{path: /d}", "unknown placeholder"),
        ("{path: /m, importer: lmstudio}", "", "importer"),
    ],
)
def test_bad_placement_fields_are_refused(models: str, data: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        App.model_validate(_entry(models, data))
