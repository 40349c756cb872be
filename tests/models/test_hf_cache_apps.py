"""The user's HF cache given to apps with no second download: the planner mounts it read-only at
its own path, the views link into it, ``--model REPO:FILE`` finds its files, and stand-in
containers with each app's mounts read a cache that huggingface_hub itself wrote."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import hf_hub_download, snapshot_download

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices, LaunchPlan
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.loader import load_file
from paitui.services.engine.create import prepare_models_views
from paitui.services.models.views import refresh_views
from paitui.settings import Settings
from tests.conftest import REPO_ROOT
from tests.engine.test_models_reach_apps import BY_KIND_READERS, HF_CACHE_ENV, _run_as_app
from tests.models.hub_server import HubServer, make_repo
from tests.models.test_library import LORA, VAE

UNET = random.Random(7).randbytes(3000)  # no header: the unet/ folder and the repo decide


def _apps() -> dict[str, App]:
    apps, issues = load_file(REPO_ROOT / "catalog.yml")
    assert not issues
    return {a.id: a for a in apps}


def _plan(app: App, tmp_path: Path, cache: Path | None, model: str | None = None) -> LaunchPlan:
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    needs = app.needs
    choices = LaunchChoices(
        variant=next(iter(app.variants)),
        model_id="acme/pipe" if needs.hf_repo else None,
        model_file=model,
        env={k: (needs.choices.get(k) or ("x",))[0] for k in needs.env},
    )
    hw = HardwareReport(render_gid=993, video_gid=44)
    return plan_launch(app, hw, settings, choices, models_store=tmp_path / "models", hf_cache=cache)


def test_the_planner_mounts_the_cache_read_only_only_where_it_is_read(tmp_path: Path) -> None:
    apps = _apps()
    cache = tmp_path / "hf" / "hub"
    for app_id in ("pai-comfyui", "vllm", "livepeer-ai-runner", "sd-webui-rx5500"):
        plan = _plan(apps[app_id], tmp_path, cache)
        (mount,) = [m for m in plan.mounts if m.source == str(cache)]
        assert (mount.target, mount.read_only) == (str(cache), True), app_id
        assert all(m.read_only for m in plan.mounts if m.source in (str(cache), plan.models_views))
    # An app given one file by argument gets no cache unless that file is in it.
    llama = apps["llama-cpp-server"]
    plain = _plan(llama, tmp_path, cache, model="acme/x/m.gguf")
    assert all(m.source != str(cache) for m in plain.mounts)
    snap = f"{cache}/models--acme--x/snapshots/{'a' * 40}/m.gguf"
    given = _plan(llama, tmp_path, cache, model=snap)
    assert [(m.source, m.target, m.read_only) for m in given.mounts if m.source == str(cache)] == [
        (str(cache), str(cache), True)
    ]
    assert snap in (given.command or ())
    # No cache: the plans are what they were.
    assert all("hf" not in m.source for m in _plan(apps["vllm"], tmp_path, None).mounts)


def test_a_cache_inside_a_writable_dir_is_left_out_with_a_warning(tmp_path: Path) -> None:
    app = _apps()["pai-comfyui"]
    cache = tmp_path / "apps" / "pai-comfyui" / "hub"  # inside the app's writable data dir
    plan = _plan(app, tmp_path, cache)
    assert all(m.source != str(cache) for m in plan.mounts)
    assert any("Hugging Face cache is not given" in w for w in plan.warnings)
    wide = _plan(app, tmp_path, tmp_path / "apps")  # above the data dir: as bad
    assert all(m.source != str(tmp_path / "apps") or not m.read_only for m in wide.mounts)
    assert any("Hugging Face cache is not given" in w for w in wide.warnings)


@pytest.fixture
def cache(hub_server: HubServer, tmp_path: Path) -> Path:
    """A cache huggingface_hub wrote from the local Hub: a LoRA/VAE repo, a GGUF, a pipeline."""
    hub_server.add(make_repo("acme/styles", {"ink.safetensors": LORA, "vae.safetensors": VAE}))
    hub_server.add(
        make_repo(
            "acme/pipe",
            {
                "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}',
                "unet/diffusion_pytorch_model.safetensors": UNET,
            },
        )
    )
    where = tmp_path / "hf-home" / "hub"
    for repo in ("acme/styles", "acme/pipe"):
        snapshot_download(repo, endpoint=hub_server.url, cache_dir=where)
    hf_hub_download("acme/tiny-gguf", "tiny.Q4_K_M.gguf", endpoint=hub_server.url, cache_dir=where)
    return where


def test_views_link_into_the_cache_and_the_store_wins_a_shared_repo(
    cache: Path, tmp_path: Path
) -> None:
    store = tmp_path / "models"
    refresh_views(store, hf_cache=cache)
    views = store / ".paitui-views"
    ink = views / "by-kind/loras/acme--styles/ink.safetensors"
    assert os.readlink(ink) == str(
        cache
        / "models--acme--styles/snapshots"
        / os.listdir(cache / "models--acme--styles/snapshots")[0]
        / "ink.safetensors"
    )
    assert ink.read_bytes() == LORA
    pipe = views / "hf/models--acme--pipe"
    rev = (pipe / "refs/main").read_text()
    assert (pipe / "snapshots" / rev / "model_index.json").is_file()
    # huggingface_hub reads the view as a cache, offline.
    found = hf_hub_download(
        "acme/pipe", "model_index.json", cache_dir=views / "hf", local_files_only=True
    )
    assert Path(found).read_bytes().startswith(b'{"_class_name"')
    # The store gets the same repo: its files alone make the repo's view.
    from paitui.services.models.store import ModelStore

    own = ModelStore(store)
    path = own.path_for("acme/styles", "vae.safetensors")
    path.parent.mkdir(parents=True)
    path.write_bytes(VAE)
    own.record("acme/styles", "vae.safetensors", size=len(VAE), sha256="0" * 64, revision="b" * 40)
    refresh_views(store, hf_cache=cache)
    assert not ink.exists() and not ink.is_symlink()
    vae = views / "by-kind/vae/acme--styles/vae.safetensors"
    assert not os.readlink(vae).startswith("/")  # the store's own, relative
    assert (views / "hf/models--acme--styles/refs/main").read_text() == "b" * 40


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        env=env, text=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_model_by_repo_finds_the_cache_file_and_never_downloads(
    cache: Path, hub_server: HubServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "HF_ENDPOINT": hub_server.url,
        "HF_HOME": str(cache.parent),
        "PAITUI_STATE_DIR": str(tmp_path / "state"),
        "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        env.pop(var, None)
    hub_server.requests.clear()
    for spec in ("acme/tiny-gguf:tiny.Q4_K_M.gguf", "acme/tiny-gguf", "acme/tiny-gguf:*Q4*"):
        done = _cli(env, "run-cmd", "llama-cpp-server", "--model", spec, "--no-hw", "--json")
        assert done.returncode == 0, done.stderr
        argv = json.loads(done.stdout)["argv"]
        model = argv[argv.index("--model") + 1] if "--model" in argv else argv[argv.index("-m") + 1]
        assert model.startswith(f"{cache}/models--acme--tiny-gguf/snapshots/")
        served = hub_server.repos["acme/tiny-gguf"].files["tiny.Q4_K_M.gguf"]
        assert Path(model).read_bytes()[:16] == served.read(0, 16)
        assert f"{cache}:{cache}:ro" in argv
    assert hub_server.requests == []  # found locally: the Hub was never asked
    # Not installed anywhere: run-cmd does not pull, it says how to get it.
    missing = _cli(env, "run-cmd", "llama-cpp-server", "--model", "acme/big", "--no-hw")
    assert missing.returncode == 1 and "not installed: paitui start pulls it" in missing.stderr
    assert hub_server.requests == []


@pytest.mark.docker
@pytest.mark.parametrize("app_id", ["pai-comfyui", "vllm"])
def test_a_stand_in_app_reads_the_cache_through_the_views(
    app_id: str,
    cache: Path,
    hub_server: HubServer,
    tmp_path: Path,
    docker_client: Any,
    busybox_image: str,
) -> None:
    os.chmod(tmp_path, 0o755)
    app = _apps()[app_id]
    plan = _plan(app, tmp_path, cache)
    prepare_models_views(plan)  # what the engine does first; reads the HF cache of the env
    if app_id in BY_KIND_READERS:
        folders = BY_KIND_READERS[app_id](plan)
        script = "".join(
            f'busybox find -L {d} -type f | while read f; do cat "$f" | busybox md5sum | '
            f'sed "s|-|{kind}=${{f#{d}/}}|"; done; '
            for kind, d in folders.items()
        )
        seen = _run_as_app(docker_client, plan, busybox_image, script)
        assert sorted(seen) == sorted(
            [hashlib.md5(LORA).hexdigest(), "lora=acme--styles/ink.safetensors",
             hashlib.md5(VAE).hexdigest(), "vae=acme--styles/vae.safetensors"]
        )  # fmt: skip
    else:
        root = plan.env[HF_CACHE_ENV[app_id]]
        repo = f"{root}/models--acme--pipe"
        script = (
            f"cat {repo}/refs/main; echo; cd {repo}/snapshots/$(cat {repo}/refs/main) && "
            "busybox find -L . -type f | sort | while read f; do echo $f; cat $f | wc -c; done"
        )
        seen = _run_as_app(docker_client, plan, busybox_image, script)
        served = hub_server.repos["acme/pipe"]
        assert seen == [
            served.commit,
            "./model_index.json", str(served.files["model_index.json"].size),
            "./unet/diffusion_pytorch_model.safetensors", str(len(UNET)),
        ]  # fmt: skip
