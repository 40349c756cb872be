"""The models library: kinds recorded at install (header + the Hub's repo facts), the user's
override, and the user's Hugging Face cache listed read-only. Real ``paitui`` processes against
the local Hub server; caches written by huggingface_hub itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import hf_hub_download, snapshot_download
from safetensors.numpy import save

from paitui.domain.catalog.model_apps import apps_for_file
from paitui.domain.catalog.schema import Catalog
from paitui.domain.models.records import kind_is_read
from paitui.services.catalog.loader import load_file
from paitui.services.models.store import ModelStore
from paitui.services.models.views import refresh_views
from tests.conftest import REPO_ROOT
from tests.models.hub_server import HubServer, make_repo

Z = np.zeros((1,), dtype=np.float16)
LORA = save(
    {
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": Z,
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": Z,
    }
)
VAE = save({"encoder.conv_in.weight": Z, "decoder.conv_in.weight": Z})
NOISE = os.urandom(40_000)  # no readable header: the name and the repo decide


@pytest.fixture
def cli_env(hub_server: HubServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A ``paitui`` process environment: the local Hub, its own state dir and HF cache."""
    hub_server.add(make_repo("acme/styles", {"ink.safetensors": LORA, "vae.safetensors": VAE}))
    hub_server.add(
        make_repo(
            "acme/pipe",
            {
                "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}',
                "text_encoder/model.safetensors": NOISE,
            },
            tags=("diffusers",),
            pipeline_tag="text-to-image",
            library_name="diffusers",
        )
    )
    env = {
        **os.environ,
        "HF_ENDPOINT": hub_server.url,
        "HF_HOME": str(tmp_path / "hf-home"),
        "PAITUI_STATE_DIR": str(tmp_path / "state"),
        "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        env.pop(var, None)
    yield env


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def paitui(cli_env: dict[str, str]) -> Run:
    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paitui", *args],
            env=cli_env, text=True, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    return run


def _files(listing: dict[str, object]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for repo in listing["repos"]:  # type: ignore[attr-defined]
        for f in repo["files"]:
            out[f"{repo['origin']}:{repo['repo']}/{f['path']}"] = f
    return out


def _ls(paitui: Run) -> dict[str, dict[str, object]]:
    done = paitui("models", "ls", "--json")
    assert done.returncode == 0, done.stderr
    return _files(json.loads(done.stdout))


def test_kinds_are_recorded_at_install_from_header_and_hub(paitui: Run, tmp_path: Path) -> None:
    for repo in ("acme/styles", "acme/pipe"):
        pulled = paitui("models", "pull", repo)
        assert pulled.returncode == 0, pulled.stderr
    index = json.loads((tmp_path / "state/models/.paitui-index.json").read_text())["files"]
    got = {k: (v["kind"], v["kind_source"]) for k, v in index.items() if "kind" in v}
    assert got == {
        "acme/styles/ink.safetensors": ("lora", "header"),
        "acme/styles/vae.safetensors": ("vae", "header"),
        # Unreadable bytes: the file name alone says "checkpoint"; the repo knows better.
        "acme/pipe/text_encoder/model.safetensors": ("text_encoder", "repo"),
        "acme/pipe/model_index.json": ("unknown", "header"),  # no header to read
    }
    files = _ls(paitui)
    assert files["store:acme/styles/ink.safetensors"]["unused"] is False
    # Part of a diffusers repo: apps reading the whole repo use it.
    assert files["store:acme/pipe/model_index.json"]["unused"] is False
    assert paitui("models", "pull", "acme/tiny-gguf", "README.md").returncode == 0
    readme = _ls(paitui)["store:acme/tiny-gguf/README.md"]
    assert (readme["unused"], readme["apps"]) == (True, [])
    assert "README.md  7 B" in paitui("models", "ls").stdout
    assert "apps: none: no app reads this type" in paitui("models", "ls").stdout
    te = files["store:acme/pipe/text_encoder/model.safetensors"]
    assert te["kind"] == "text_encoder" and "diffusers pipeline" in str(te["kind_why"])
    assert te["read_only"] is False
    table = paitui("models", "ls")
    assert "type: LoRA (" in table.stdout and "type: VAE (" in table.stdout


def test_the_users_kind_wins_reaches_the_views_and_can_be_cleared(
    paitui: Run, tmp_path: Path
) -> None:
    assert paitui("models", "pull", "acme/styles", "ink.safetensors").returncode == 0
    store = tmp_path / "state/models"
    views = store / ".paitui-views/by-kind"
    refresh_views(store, hf_cache=False)
    assert (views / "loras/acme--styles/ink.safetensors").is_file()
    done = paitui("models", "kind", "acme/styles/ink.safetensors", "embedding", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["kind"], answer["kind_source"], answer["auto_kind"]) == (
        "embedding", "user", "lora"
    )  # fmt: skip
    assert _ls(paitui)["store:acme/styles/ink.safetensors"]["kind"] == "embedding"
    refresh_views(store, hf_cache=False)
    assert (views / "embeddings/acme--styles/ink.safetensors").is_file()
    assert not (views / "loras/acme--styles").exists()
    # A new download of the file keeps the user's choice.
    assert paitui("models", "rm", "acme/styles", "--yes").returncode == 0
    assert paitui("models", "pull", "acme/styles", "ink.safetensors").returncode == 0
    assert _ls(paitui)["store:acme/styles/ink.safetensors"]["kind"] == "lora"  # rm forgot it
    assert paitui("models", "kind", "acme/styles/ink.safetensors", "vae").returncode == 0
    store_obj = ModelStore(store)
    m = store_obj.find("acme/styles", "ink.safetensors")
    assert m is not None
    store_obj.record("acme/styles", "ink.safetensors", size=m.size, sha256=m.sha256, revision="x")
    assert _ls(paitui)["store:acme/styles/ink.safetensors"]["kind"] == "vae"
    cleared = paitui("models", "kind", "acme/styles/ink.safetensors", "--auto")
    assert cleared.returncode == 0 and "automatic: " in cleared.stdout
    assert _ls(paitui)["store:acme/styles/ink.safetensors"]["kind"] == "lora"


@pytest.mark.parametrize(
    ("argv", "status", "words"),
    [
        (["acme/styles/ink.safetensors", "banana"], 2, "not a model type; one of: llm"),
        (["acme/styles/ink.safetensors"], 2, "give a KIND, or --auto"),
        (["acme/styles/ink.safetensors", "vae", "--auto"], 2, "give a KIND, or --auto"),
        (["acme/styles/absent.safetensors", "vae"], 1, "is no file of the library"),
        (["acme/styles", "vae"], 1, "is no file of the library"),
    ],
)
def test_bad_kind_commands_say_what_to_do(
    paitui: Run, tmp_path: Path, argv: list[str], status: int, words: str
) -> None:
    assert paitui("models", "pull", "acme/styles", "ink.safetensors").returncode == 0
    index = tmp_path / "state/models/.paitui-index.json"
    before = index.read_bytes()
    done = paitui("models", "kind", *argv)
    assert done.returncode == status and words in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert index.read_bytes() == before  # nothing written


def test_an_old_index_entry_gets_its_kind_from_the_header(paitui: Run, tmp_path: Path) -> None:
    assert paitui("models", "pull", "acme/styles", "vae.safetensors").returncode == 0
    index = tmp_path / "state/models/.paitui-index.json"
    doc = json.loads(index.read_text())
    for entry in doc["files"].values():
        for key in ("kind", "kind_source", "kind_why"):
            entry.pop(key)
    index.write_text(json.dumps(doc))
    f = _ls(paitui)["store:acme/styles/vae.safetensors"]
    assert (f["kind"], f["kind_source"]) == ("vae", "header")


def _tree(root: Path) -> list[tuple[str, int, int, str]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out.append((p, st.st_size, st.st_mtime_ns, os.readlink(p) if os.path.islink(p) else ""))
    return sorted(out)


def test_the_hf_cache_is_listed_read_only_with_kinds(
    paitui: Run, cli_env: dict[str, str], hub_server: HubServer
) -> None:
    cache = Path(cli_env["HF_HOME"]) / "hub"  # where huggingface_hub writes by default
    snapshot_download("acme/styles", endpoint=hub_server.url, cache_dir=cache)
    hf_hub_download("acme/tiny-gguf", "tiny.Q4_K_M.gguf", endpoint=hub_server.url, cache_dir=cache)
    before = _tree(cache)
    done = paitui("models", "ls", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["hf_cache"] == str(cache) and listing["total_size"] == 0
    files = _files(listing)
    assert sorted(files) == [
        "hf-cache:acme/styles/ink.safetensors",
        "hf-cache:acme/styles/vae.safetensors",
        "hf-cache:acme/tiny-gguf/tiny.Q4_K_M.gguf",
    ]
    ink = files["hf-cache:acme/styles/ink.safetensors"]
    assert (ink["kind"], ink["kind_source"], ink["read_only"]) == ("lora", "header", True)
    assert "pai-comfyui" in ink["apps"]  # type: ignore[operator]
    gguf = files["hf-cache:acme/tiny-gguf/tiny.Q4_K_M.gguf"]
    # huggingface_hub names LFS blobs by their sha256: the digest an Ollama import needs.
    assert gguf["sha256"] == hub_server.repos["acme/tiny-gguf"].files["tiny.Q4_K_M.gguf"].sha256
    assert "llama-cpp-server" in gguf["apps"]  # type: ignore[operator]
    table = paitui("models", "ls")
    assert "acme/styles  " in table.stdout and "(HF cache, read-only)" in table.stdout
    # rm refuses, says why and what to do; the kind can still be chosen (kept in paitui's index).
    refused = paitui("models", "rm", "acme/styles", "--yes")
    assert refused.returncode == 1 and "Hugging Face cache" in refused.stderr
    assert "hf cache delete" in refused.stderr
    chosen = paitui("models", "kind", "acme/styles/ink.safetensors", "vae")
    assert chosen.returncode == 0, chosen.stderr
    assert _ls(paitui)["hf-cache:acme/styles/ink.safetensors"]["kind"] == "vae"
    # The index keeps that choice through the store's own writes.
    assert paitui("models", "pull", "acme/tiny-gguf", "tiny.Q8_0.gguf").returncode == 0
    after = _ls(paitui)
    assert after["hf-cache:acme/styles/ink.safetensors"]["kind"] == "vae"
    assert after["store:acme/tiny-gguf/tiny.Q8_0.gguf"]["read_only"] is False
    assert _tree(cache) == before  # the cache was never written


def _catalog() -> Catalog:
    apps, issues = load_file(REPO_ROOT / "catalog.yml")
    assert not issues
    return Catalog(apps={a.id: a for a in apps})


def test_apps_come_from_kind_and_format() -> None:
    catalog = _catalog()
    llm = apps_for_file(catalog, "m.Q4_K_M.gguf", kind="llm")
    assert {"llama-cpp-server", "ollama", "koboldcpp"} <= set(llm)
    assert not {"pai-comfyui", "vllm"} & set(llm)
    # A diffusion GGUF (city96) and a transformers shard: no app loads these on their own.
    assert apps_for_file(catalog, "flux1-dev-Q4_0.gguf", kind="diffusion_model") == ()
    assert apps_for_file(catalog, "model-00001-of-00002.safetensors", kind="transformers") == ()
    # ...but the repo's layout still makes it usable as a whole by repo apps.
    whole = apps_for_file(
        catalog, "model.safetensors", ["config.json", "model.safetensors"], kind="transformers"
    )
    assert "vllm" in whole and "pai-comfyui" not in whole
    lora = apps_for_file(catalog, "ink.safetensors", kind="lora")
    assert "pai-comfyui" in lora and "llama-cpp-server" not in lora
    # Unknown is no verdict: the format decides, as before kinds.
    assert apps_for_file(catalog, "x.safetensors", kind="unknown") == apps_for_file(
        catalog, "x.safetensors"
    )
    assert kind_is_read("projector", "gguf") and not kind_is_read("vae", "gguf")


def test_model_specs_and_the_choice_among_a_repos_files() -> None:
    from paitui.domain.models.records import (
        ModelChoiceError,
        ModelSpec,
        UnsafePathError,
        choose_model,
        parse_model_spec,
    )

    assert parse_model_spec("org/name") == ModelSpec("org/name")
    assert parse_model_spec("org/name:*Q4*") == ModelSpec("org/name", "*Q4*")
    assert parse_model_spec("org/name:") == ModelSpec("org/name")
    for path in ("org/name/m.gguf", "org/m.gguf", "/abs/m.gguf", "m.gguf"):
        assert parse_model_spec(path) is None, path
    with pytest.raises(UnsafePathError):
        parse_model_spec("../x:m.gguf")
    sizes: dict[str, int | None] = {
        "m-00001-of-00002.gguf": 10, "m-00002-of-00002.gguf": 20, "mmproj-f16.gguf": 5,
        "small.Q4.gguf": 7, "README.md": 1,
    }  # fmt: skip
    whole = choose_model(sizes, ["gguf"], ModelSpec("o/r", "m-00002-of-00002.gguf"))
    assert whole.shards == ("m-00001-of-00002.gguf", "m-00002-of-00002.gguf")
    assert choose_model(sizes, ["gguf"], ModelSpec("o/r", "small*")).main == "small.Q4.gguf"
    with pytest.raises(ModelChoiceError, match=r"m-00001-of-00002.gguf \(30 B\)"):
        choose_model(sizes, ["gguf"], ModelSpec("o/r"))  # two models: named, not guessed
    with pytest.raises(ModelChoiceError, match="no gguf file of o/r matches 'x'"):
        choose_model(sizes, ["gguf"], ModelSpec("o/r", "x"))


def test_seeded_hostile_specs_never_crash() -> None:
    import random

    from paitui.domain.models.records import (
        ModelChoiceError,
        UnsafePathError,
        choose_model,
        parse_model_spec,
    )

    rng = random.Random(1212)
    alphabet = "ab/:.*?[]-_\\\x00\x1b é" + "0123456789"
    names = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        + rng.choice(["", ".gguf", "-00001-of-00002.gguf", ".safetensors"])
        for _ in range(300)
    ]
    sizes: dict[str, int | None] = {n: rng.choice([None, 0, 5]) for n in names}
    outcomes = {"spec": 0, "path": 0, "unsafe": 0, "chosen": 0, "refused": 0}
    for text in names:
        try:
            spec = parse_model_spec(text)
        except UnsafePathError:
            outcomes["unsafe"] += 1
            continue
        outcomes["spec" if spec else "path"] += 1
        if spec is None:
            continue
        try:
            choose_model(sizes, ["gguf", "safetensors"], spec)
            outcomes["chosen"] += 1
        except ModelChoiceError as exc:
            assert str(exc)
            outcomes["refused"] += 1
    assert all(outcomes[k] for k in ("spec", "path", "unsafe", "refused")), outcomes
