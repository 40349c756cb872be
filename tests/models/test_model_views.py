"""The store's views: folders per type and a Hugging Face cache made of relative symlinks, which
resolve wherever the store is mounted and which huggingface_hub itself reads offline."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from paitui.domain.models.records import InstalledModel
from paitui.domain.models.views import VIEWS_DIR, view_tree
from paitui.services.models.views import ViewsError, sync_views

REV = "0123456789abcdef0123456789abcdef01234567"


def _model(
    store: Path, repo: str, path: str, rev: str = REV, date: str = "2026-12-01"
) -> InstalledModel:
    target = store.joinpath(*repo.split("/"), *path.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(f"{repo}/{path}".encode())
    return InstalledModel(repo, path, str(target), target.stat().st_size, "0" * 64, rev, date)


def _tree_of(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            out[rel] = "-> " + os.readlink(p) if p.is_symlink() else p.read_text()
    return out


def test_by_kind_links_resolve_to_the_store_files(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ckpt = _model(store, "org/sdxl", "sd_xl_base.safetensors")
    lora = _model(store, "org/loras", "styles/ink.safetensors")
    llm = _model(store, "org/llm-GGUF", "llm.Q4_K_M.gguf")
    kinds = {
        (ckpt.repo_id, ckpt.path): "checkpoint",
        (lora.repo_id, lora.path): "lora",
        (llm.repo_id, llm.path): "llm",
    }
    sync_views(store, view_tree([ckpt, lora, llm], kinds))
    views = store / VIEWS_DIR / "by-kind"
    assert (views / "checkpoints/org--sdxl/sd_xl_base.safetensors").read_bytes() == (
        b"org/sdxl/sd_xl_base.safetensors"
    )
    assert (views / "loras/org--loras/styles/ink.safetensors").read_bytes() == (
        b"org/loras/styles/ink.safetensors"
    )
    link = views / "checkpoints/org--sdxl/sd_xl_base.safetensors"
    assert not os.readlink(link).startswith("/")  # relative: resolves at any mount point
    # Every folder exists even when empty (A1111 makedirs a missing one, which fails read-only).
    assert sorted(p.name for p in views.iterdir()) == sorted(
        ["checkpoints", "diffusion_models", "loras", "vae", "text_encoders", "controlnet",
         "upscale_models", "embeddings", "llm"]
    )  # fmt: skip
    # A moved store still resolves.
    moved = tmp_path / "elsewhere"
    store.rename(moved)
    assert (moved / VIEWS_DIR / "by-kind/llm/org--llm-GGUF/llm.Q4_K_M.gguf").read_bytes() == (
        b"org/llm-GGUF/llm.Q4_K_M.gguf"
    )


def test_huggingface_hub_reads_the_cache_view_offline(tmp_path: Path) -> None:
    from huggingface_hub import hf_hub_download, snapshot_download

    store = tmp_path / "store"
    models = [
        _model(store, "org/pipe", "model_index.json"),
        _model(store, "org/pipe", "unet/diffusion_pytorch_model.safetensors"),
    ]
    sync_views(store, view_tree(models, {}))
    cache = store / VIEWS_DIR / "hf"
    assert (cache / "models--org--pipe/refs/main").read_text() == REV  # no newline: read raw
    got = hf_hub_download(
        "org/pipe", "unet/diffusion_pytorch_model.safetensors", cache_dir=cache,
        local_files_only=True,
    )  # fmt: skip
    assert Path(got).read_bytes() == b"org/pipe/unet/diffusion_pytorch_model.safetensors"
    snap = snapshot_download("org/pipe", cache_dir=cache, local_files_only=True)
    assert (Path(snap) / "model_index.json").read_bytes() == b"org/pipe/model_index.json"


def test_a_sync_removes_what_left_the_store_and_keeps_the_rest(tmp_path: Path) -> None:
    store = tmp_path / "store"
    a = _model(store, "org/a", "a.safetensors")
    b = _model(store, "org/b", "b.safetensors")
    kinds = {(a.repo_id, a.path): "vae", (b.repo_id, b.path): "vae"}
    sync_views(store, view_tree([a, b], kinds))
    before = _tree_of(store / VIEWS_DIR)
    report = sync_views(store, view_tree([a, b], kinds))
    assert (report.linked, report.written, report.removed) == (0, 0, 0)
    report = sync_views(store, view_tree([a], kinds))
    after = _tree_of(store / VIEWS_DIR)
    gone = set(before) - set(after)
    assert gone == {
        "by-kind/vae/org--b/b.safetensors",
        "hf/models--org--b/refs/main",
        f"hf/models--org--b/snapshots/{REV}/b.safetensors",
    }
    assert not (store / VIEWS_DIR / "hf/models--org--b").exists()  # empty folders pruned too
    assert (store / "org/b/b.safetensors").exists()  # the store itself is never touched


def test_a_retyped_file_moves_folder(tmp_path: Path) -> None:
    store = tmp_path / "store"
    a = _model(store, "org/a", "a.safetensors")
    sync_views(store, view_tree([a], {(a.repo_id, a.path): "checkpoint"}))
    sync_views(store, view_tree([a], {(a.repo_id, a.path): "diffusion_model"}))
    views = store / VIEWS_DIR / "by-kind"
    assert not (views / "checkpoints/org--a").exists()
    assert (views / "diffusion_models/org--a/a.safetensors").read_bytes() == b"org/a/a.safetensors"


def test_a_symlink_planted_in_the_views_is_replaced_not_followed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    outside = tmp_path / "outside"
    outside.mkdir()
    a = _model(store, "org/a", "a.safetensors")
    (store / VIEWS_DIR).mkdir(parents=True)
    (store / VIEWS_DIR / "by-kind").symlink_to(outside)
    (store / VIEWS_DIR / "hf").symlink_to(outside)
    sync_views(store, view_tree([a], {(a.repo_id, a.path): "lora"}))
    assert list(outside.iterdir()) == []
    assert (store / VIEWS_DIR / "by-kind").is_dir()
    assert not (store / VIEWS_DIR / "by-kind").is_symlink()


def test_hostile_index_entries_are_never_linked(tmp_path: Path) -> None:
    store = tmp_path / "store"
    good = _model(store, "org/a", "a.safetensors")
    bad = [
        InstalledModel("org/a", "../../../etc/passwd", "/etc/passwd", 1, "0" * 64, REV, "x"),
        InstalledModel("../x", "a.safetensors", "/x", 1, "0" * 64, REV, "x"),
        InstalledModel("org/b", "b.safetensors", "/b", 1, "0" * 64, "../../../../tmp", "x"),
    ]
    kinds = {(m.repo_id, m.path): "lora" for m in [good, *bad]}
    tree = view_tree([good, *bad], kinds)
    for link in tree.links:
        assert ".." not in Path(link.path).parts
        resolved = os.path.normpath(store / VIEWS_DIR / Path(link.path).parent / link.target)
        assert resolved.startswith(str(store) + os.sep)
    assert all(".." not in Path(f.path).parts for f in tree.files)


def test_an_unwritable_store_says_what_to_do(tmp_path: Path) -> None:
    store = tmp_path / "store"
    a = _model(store, "org/a", "a.safetensors")
    # Root writes through permission bits: make the store a read-only bind mount instead.
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(store), str(store)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(store)], check=True)
    else:
        os.chmod(store, 0o555)
    try:
        with pytest.raises(ViewsError, match="check that the models store is writable"):
            sync_views(store, view_tree([a], {}))
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(store)], check=True)
        os.chmod(store, 0o755)
    assert not (store / VIEWS_DIR).exists()
