"""Installed models appear where each app reads them, read-only, with no copies: for every bundled
app whose catalog entry reads folders per type or a Hugging Face cache, a stand-in container with
the app's mounts, user and environment finds each installed model type at the paths the app's own
arguments and environment name (the ones paitui passes), and can read it."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices, LaunchPlan
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.loader import load_file
from paitui.services.engine.create import prepare_models_views
from paitui.services.models.store import ModelStore
from paitui.settings import Settings
from tests.conftest import REPO_ROOT
from tests.engine.standin import run_to_end, stand_in_plan

pytestmark = pytest.mark.docker

REV = "0123456789abcdef0123456789abcdef01234567"
Z = np.zeros((1,), dtype=np.float16)
#: (repo, file, tensor names) of real safetensors headers, one per model type.
MODELS: dict[str, tuple[str, str, list[str]]] = {
    "checkpoint": (
        "org/sd15",
        "sd15.safetensors",
        [
            "model.diffusion_model.input_blocks.0.0.weight",
            "model.diffusion_model.out.2.weight",
            "first_stage_model.encoder.conv_in.weight",
            "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
        ],
    ),
    "vae": ("org/vae", "vae.safetensors", ["encoder.conv_in.weight", "decoder.conv_in.weight"]),
    "lora": (
        "org/lora",
        "styles/ink.safetensors",
        [
            "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight",
            "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
            "lora_unet_down_blocks_0_attentions_0_proj_in.alpha",
        ],
    ),
}
PIPELINE = ("org/pipe", ["model_index.json", "unet/diffusion_pytorch_model.safetensors"])


def _store(root: Path) -> ModelStore:
    store = ModelStore(root)
    for repo, name, names in MODELS.values():
        path = store.path_for(repo, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({n: Z for n in names}, str(path))
        os.chmod(path, 0o644)  # as downloads install them (safetensors itself writes 0600)
        store.record(repo, name, size=path.stat().st_size, sha256="0" * 64, revision=REV)
    repo, files = PIPELINE
    for name in files:
        path = store.path_for(repo, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"_class_name": "StableDiffusionPipeline"}')
        store.record(repo, name, size=path.stat().st_size, sha256="0" * 64, revision=REV)
    return store


def _flag(plan: LaunchPlan, name: str) -> str:
    args = list(plan.command or ())
    args += (plan.env.get("CLI_ARGS") or "").split()
    return dict(itertools.pairwise(args))[name]


def _host(plan: LaunchPlan, container_path: str) -> Path:
    for m in plan.mounts:
        if PurePosixPath(container_path).is_relative_to(m.target):
            return Path(m.source) / PurePosixPath(container_path).relative_to(m.target)
    raise AssertionError(f"{container_path} is on no mount")


def _comfyui(plan: LaunchPlan) -> dict[str, str]:
    """Folder type -> container dir, from the extra model paths file ComfyUI is given."""
    config = _flag(plan, "--extra-model-paths-config")
    data = yaml.safe_load(_host(plan, config).read_text())
    out = {}
    for group in data.values():
        base = PurePosixPath(config).parent / group.get("base_path", "")
        for key in ("checkpoints", "loras", "vae"):
            out[key] = str(base / group[key])
    return {"checkpoint": out["checkpoints"], "lora": out["loras"], "vae": out["vae"]}


def _a1111(plan: LaunchPlan) -> dict[str, str]:
    return {
        "checkpoint": _flag(plan, "--ckpt-dir"),
        "lora": _flag(plan, "--lora-dir"),
        "vae": _flag(plan, "--vae-dir"),
    }


def _sdnext(plan: LaunchPlan) -> dict[str, str]:
    base = plan.env["SD_MODELSDIR"]
    return {"checkpoint": f"{base}/Stable-diffusion", "lora": f"{base}/Lora", "vae": f"{base}/VAE"}


def _fooocus(plan: LaunchPlan) -> dict[str, str]:
    """The store's folders of the config.txt paitui wrote (after the app's own, first)."""
    config = json.loads(_host(plan, plan.env["config_path"]).read_text())
    return {"checkpoint": config["path_checkpoints"][1], "lora": config["path_loras"][1]}


#: How each app is told where its typed folders are: keep one per by-kind app in the catalog.
BY_KIND_READERS: dict[str, Callable[[LaunchPlan], dict[str, str]]] = {
    "fooocus": _fooocus,
    "pai-comfyui": _comfyui,
    "comfyui-community": _comfyui,
    "sd-webui-rx5500": _a1111,
    "sdnext": _sdnext,
}
#: The environment variable that names each HF-cache app's cache.
HF_CACHE_ENV = {"livepeer-ai-runner": "HUGGINGFACE_HUB_CACHE", "vllm": "HF_HUB_CACHE"}


def _apps(layout: str) -> list[App]:
    apps, issues = load_file(REPO_ROOT / "catalog.yml")
    assert not issues
    return [a for a in apps if a.mounts.models is not None and a.mounts.models.layout == layout]


def _plan(app: App, tmp_path: Path, store: ModelStore) -> LaunchPlan:
    settings = Settings(models_dir=store.root, apps_dir=tmp_path / "apps")
    needs = app.needs
    choices = LaunchChoices(
        variant=next(iter(app.variants)),
        model_id=PIPELINE[0] if needs.hf_repo else None,
        env={k: (needs.choices.get(k) or ("x",))[0] for k in needs.env},
    )
    hardware = HardwareReport(render_gid=993, video_gid=44)
    return plan_launch(app, hardware, settings, choices, models_store=store.root)


def _app_user(plan: LaunchPlan) -> str:
    """The uid the image runs as: its catalog user, else its data dir's owner, else root."""
    if plan.user and plan.user.split(":")[0].isdigit():
        return plan.user
    if plan.data_uid is not None:
        return f"{plan.data_uid}:{plan.data_gid if plan.data_gid is not None else plan.data_uid}"
    return "0:0"


def _run_as_app(
    docker_client: Any,
    plan: LaunchPlan,
    image: str,
    script: str,
    args: tuple[str, ...] = (),
) -> list[str]:
    """``script`` in busybox with the plan's mounts, env and user; ``args`` become ``$@``."""
    user = _app_user(plan)
    stand_in = stand_in_plan(
        plan,
        image,
        entrypoint=("/bin/sh", "-c", script, "app"),
        command=args or None,
        user=user,
        label="reach",
    )
    if plan.data_dir:
        Path(plan.data_dir).mkdir(parents=True, exist_ok=True)
        uid, gid = (int(x) for x in user.split(":"))
        os.chown(plan.data_dir, uid, gid)  # as the engine's prepare_data_dir does
    return run_to_end(docker_client, stand_in).split()


def test_every_by_kind_app_has_a_reader_here() -> None:
    assert sorted(a.id for a in _apps("by-kind")) == sorted(BY_KIND_READERS)
    assert sorted(a.id for a in _apps("hf-cache")) == sorted(HF_CACHE_ENV)


@pytest.mark.parametrize("app", _apps("by-kind"), ids=lambda a: a.id)
def test_each_type_appears_in_the_apps_own_folder(
    app: App, tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    store = _store(tmp_path / "models")
    os.chmod(tmp_path, 0o755)
    plan = _plan(app, tmp_path, store)
    prepare_models_views(plan)  # what the engine does before it creates the container
    folders = BY_KIND_READERS[app.id](plan)
    script = "".join(
        f'busybox find -L {d} -type f | while read f; do cat "$f" >/dev/null && '
        f'echo "{kind}=${{f#{d}/}}"; done; '
        for kind, d in folders.items()
    )
    seen = _run_as_app(docker_client, plan, busybox_image, script)
    every = {
        "checkpoint": "checkpoint=org--sd15/sd15.safetensors",
        "lora": "lora=org--lora/styles/ink.safetensors",
        "vae": "vae=org--vae/vae.safetensors",
    }
    assert sorted(seen) == sorted(every[k] for k in folders)


def test_sdnext_sees_diffusers_pipelines_in_its_diffusers_dir(
    tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    [app] = [a for a in _apps("by-kind") if a.id == "sdnext"]
    store = _store(tmp_path / "models")
    plan = _plan(app, tmp_path, store)
    prepare_models_views(plan)
    diffusers = f"{plan.env['SD_MODELSDIR']}/Diffusers"
    script = f"cd {diffusers} && busybox find -L . -name model_index.json | sort"
    seen = _run_as_app(docker_client, plan, busybox_image, script)
    assert seen == [f"./models--org--pipe/snapshots/{REV}/model_index.json"]


@pytest.mark.parametrize("app", _apps("hf-cache"), ids=lambda a: a.id)
def test_the_hf_cache_view_holds_the_repo_at_its_revision(
    app: App, tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    store = _store(tmp_path / "models")
    os.chmod(tmp_path, 0o755)
    plan = _plan(app, tmp_path, store)
    prepare_models_views(plan)
    cache = plan.env[HF_CACHE_ENV[app.id]]
    assert plan.env.get("HF_HUB_OFFLINE") == "1"
    repo = f"{cache}/models--org--pipe"
    script = (
        f"cat {repo}/refs/main; echo; "
        f"cd {repo}/snapshots/$(cat {repo}/refs/main) && busybox find -L . -type f | sort"
    )
    seen = _run_as_app(docker_client, plan, busybox_image, script)
    assert seen == [REV, "./model_index.json", "./unet/diffusion_pytorch_model.safetensors"]


def test_localai_lists_each_store_gguf_in_its_own_models_folder(
    tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    [app] = _apps("links")
    assert app.id == "localai"
    store = _store(tmp_path / "models")
    gguf = store.path_for("org/llm-GGUF", "llm.Q4_K_M.gguf")
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF" + b"\0" * 28)
    store.record("org/llm-GGUF", "llm.Q4_K_M.gguf", size=32, sha256="0" * 64, revision=REV)
    plan = _plan(app, tmp_path, store)
    assert plan.models_links is not None
    folder = Path(plan.models_links.host_dir)
    folder.mkdir(parents=True)
    (folder / "gallery-model.yaml").write_text("name: mine\n")  # the app's own file
    prepare_models_views(plan)
    models_path = plan.env["LOCALAI_MODELS_PATH"]
    script = f'cd {models_path} && for f in *; do head -c 4 "$f"; echo " $f"; done'
    seen = _run_as_app(docker_client, plan, busybox_image, script)
    # Only the GGUF is linked (LocalAI reads gguf here), and it reads through the link.
    assert seen == ["name", "gallery-model.yaml", "GGUF", "org--llm-GGUF--llm.Q4_K_M.gguf"]
    # Removed from the store: the link goes, the app's own file stays.
    store.remove("org/llm-GGUF")
    prepare_models_views(plan)
    assert sorted(p.name for p in folder.iterdir()) == ["gallery-model.yaml"]


def test_fooocus_lists_the_store_without_following_folder_links(
    tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    # Fooocus walks its folders with os.walk without followlinks: only real folders are entered,
    # symlinked files are listed. Every folder of a list must exist, or the whole list is dropped.
    [app] = [a for a in _apps("by-kind") if a.id == "fooocus"]
    store = _store(tmp_path / "models")
    os.chmod(tmp_path, 0o755)
    plan = _plan(app, tmp_path, store)
    prepare_models_views(plan)
    script = (
        "mkdir -p /content/data/models/checkpoints /content/data/models/loras && "  # entrypoint
        'for d in $(grep -o \'"/[^"]*"\' "$config_path" | tr -d \'"\'); do '
        '[ -d "$d" ] || echo "MISSING=$d"; '
        'find "$d" \\( -type f -o -type l \\) | while read f; do '
        '[ -f "$f" ] && cat "$f" >/dev/null && echo "$d=${f#$d/}"; done; done'
    )
    seen = _run_as_app(docker_client, plan, busybox_image, script)
    views = "/mnt/models/.paitui-views/by-kind"
    assert sorted(seen) == [
        f"{views}/checkpoints=org--sd15/sd15.safetensors",
        f"{views}/loras=org--lora/styles/ink.safetensors",
    ]
    # paitui wrote config.txt only; a second start keeps the user's edit of it.
    data = Path(plan.data_dir or "")
    config = data / "config.txt"
    config.write_text(config.read_text().replace("loras/", "my-loras/"))
    prepare_models_views(plan)
    assert "my-loras/" in config.read_text()


#: The stand-in of a GGUF server: reads the files its command line names, as llama-server does.
_READ_ARGS = (
    '[ -n "$KCPP_ARGS" ] && set -- $KCPP_ARGS; '
    'while [ $# -gt 0 ]; do case "$1" in '
    '-m|--model) echo "model=$(busybox md5sum < "$2" | cut -c1-32)"; '
    'ls "$(dirname "$2")" | grep -- -of- | tr "\\n" " "; echo; shift;; '
    '--mmproj) echo "mmproj=$(busybox md5sum < "$2" | cut -c1-32)"; shift;; '
    "esac; shift; done"
)


@pytest.mark.parametrize("app_id", ["llama-cpp-server", "pai-koboldcpp", "koboldcpp"])
def test_a_gguf_server_reads_shard_one_and_the_projector_it_is_given(
    app_id: str, tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    import hashlib

    from paitui.domain.catalog.companions import model_companions

    [app] = [a for a in _apps("files") if a.id == app_id]
    store = ModelStore(tmp_path / "models")
    os.chmod(tmp_path, 0o755)
    repo = "org/vl-GGUF"
    data = {
        "vl-00001-of-00002.gguf": b"GGUF shard one",
        "vl-00002-of-00002.gguf": b"GGUF shard two",
        "mmproj-vl-f16.gguf": b"GGUF projector f16",
        "mmproj-vl-f32.gguf": b"GGUF projector f32",
    }
    for name, body in data.items():
        path = store.path_for(repo, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        os.chmod(path, 0o644)
        store.record(repo, name, size=len(body), sha256="0" * 64, revision=REV)
    for folder in (store.root, store.root / "org", store.root / repo):
        os.chmod(folder, 0o755)
    # The user names shard 2, as the CLI and the launch dialog let them; callers choose so.
    found = model_companions(f"{repo}/vl-00002-of-00002.gguf", [f"{repo}/{n}" for n in data])
    settings = Settings(models_dir=store.root, apps_dir=tmp_path / "apps")
    choices = LaunchChoices(
        variant=next(iter(app.variants)), model_file=found.main, projector=found.projector
    )
    plan = plan_launch(app, HardwareReport(render_gid=993, video_gid=44), settings, choices)
    seen = _run_as_app(docker_client, plan, busybox_image, _READ_ARGS, plan.command or ())
    md5 = {n: hashlib.md5(b).hexdigest() for n, b in data.items()}
    assert seen == [
        f"model={md5['vl-00001-of-00002.gguf']}",
        "vl-00001-of-00002.gguf",  # the sibling shard lies beside it, as llama.cpp wants
        "vl-00002-of-00002.gguf",
        f"mmproj={md5['mmproj-vl-f16.gguf']}",
    ]


def test_invokeai_can_read_what_paitui_registers_at_the_path_it_sends(
    tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    from paitui.services.models.invokeai_import import install_sources

    [app] = _apps_by_id("invokeai")
    store = _store(tmp_path / "models")
    os.chmod(tmp_path, 0o755)
    plan = _plan(app, tmp_path, store)
    assert app.mounts.models is not None
    target = app.mounts.models.path
    own = store.installed()
    sources = []
    for repo in ("org/pipe", "org/lora"):
        files = [m for m in own if m.repo_id == repo]
        sources += install_sources(files, files, target)
    assert sources == [f"{target}/org/pipe", f"{target}/org/lora/styles/ink.safetensors"]
    # As the user InvokeAI runs as (uid 1000 after its entrypoint), read each in place.
    plan = dataclasses.replace(plan, user="1000:1000")
    script = "".join(
        f'busybox find {s} -type f | sort | while read f; do cat "$f" >/dev/null && '
        f'echo "${{f#{target}/}}"; done; '
        for s in sources
    )
    seen = _run_as_app(docker_client, plan, busybox_image, script)
    assert seen == [
        "org/pipe/model_index.json",
        "org/pipe/unet/diffusion_pytorch_model.safetensors",
        "org/lora/styles/ink.safetensors",
    ]


def _apps_by_id(app_id: str) -> list[App]:
    apps, issues = load_file(REPO_ROOT / "catalog.yml")
    assert not issues
    return [a for a in apps if a.id == app_id]
