"""Installed models appear where each app reads them, read-only, with no copies: for every bundled
app whose catalog entry reads folders per type or a Hugging Face cache, a stand-in container with
the app's mounts, user and environment finds each installed model type at the paths the app's own
arguments and environment name (the ones paitui passes), and can read it."""

from __future__ import annotations

import dataclasses
import itertools
import os
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from paitui.domain.catalog import App
from paitui.domain.hardware import HardwareReport
from paitui.domain.launch import LaunchChoices, LaunchPlan
from paitui.services.catalog import load_file
from paitui.services.engine_create import create_kwargs, prepare_models_views
from paitui.services.planner import plan_launch
from paitui.services.store import ModelStore
from paitui.settings import Settings
from tests.conftest import REPO_ROOT

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


#: How each app is told where its typed folders are: keep one per by-kind app in the catalog.
BY_KIND_READERS: dict[str, Callable[[LaunchPlan], dict[str, str]]] = {
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


def _run_as_app(docker_client: Any, plan: LaunchPlan, image: str, script: str) -> list[str]:
    user = plan.user if plan.user and plan.user.split(":")[0].isdigit() else "0:0"
    stand_in = dataclasses.replace(
        plan,
        name=f"paitest-reach-{uuid.uuid4().hex[:8]}",
        image=image,
        entrypoint=("/bin/sh", "-c"),
        command=(script,),
        user=user,
        devices=(),
        device_requests=(),
        group_add=(),
        privileged=False,
        security_opt=(),
        cap_add=(),
        ports=(),
        labels={"paitest": "reach"},
        restart_policy="no",
    )
    if plan.data_dir:
        Path(plan.data_dir).mkdir(parents=True, exist_ok=True)
    container = docker_client.containers.create(image, **create_kwargs(stand_in))
    try:
        container.start()
        code = container.wait(timeout=60)["StatusCode"]
        out: str = container.logs().decode()
        assert code == 0, out
        return out.split()
    finally:
        container.remove(force=True)


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
    assert sorted(seen) == sorted(
        [
            "checkpoint=org--sd15/sd15.safetensors",
            "lora=org--lora/styles/ink.safetensors",
            "vae=org--vae/vae.safetensors",
        ]
    )


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
