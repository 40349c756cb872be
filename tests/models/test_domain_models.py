"""Pure logic of the models domain: safe paths, formats, which apps can use a file, sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from paitui.domain.catalog.model_apps import apps_for_file, apps_for_formats
from paitui.domain.catalog.schema import App, AppKind, Catalog, ModelsMount, Mounts, Variant
from paitui.domain.models.records import (
    Download,
    DownloadState,
    InstalledModel,
    RepoFile,
    RetryPolicy,
    UnsafePathError,
    check_file_path,
    group_by_repo,
    human_size,
    parse_retry_after,
    partial_path,
    repo_formats,
    split_safe_files,
    store_path,
    vram_fit,
)


def _app(app_id: str, *formats: str) -> App:
    mounts = (
        Mounts(models=ModelsMount(path="/models", formats=formats))  # type: ignore[arg-type]
        if formats
        else Mounts()
    )
    return App(
        id=app_id,
        name=app_id,
        description="",
        kind=AppKind.LLM,
        variants={"cpu": Variant(image="x")},
        mounts=mounts,
    )


CATALOG = Catalog(
    apps={
        a.id: a
        for a in (
            _app("llama-cpp", "gguf"),
            _app("koboldcpp", "gguf"),
            _app("comfyui", "safetensors", "ckpt"),
            _app("vllm", "hf-repo"),
            _app("diffusers-app", "diffusers"),
            _app("no-models"),
        )
    }
)


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "/etc/passwd",
        "a/../../b",
        "a//b",
        "./a",
        "a/.",
        "",
        "a\\b",
        "C:/x",
        "x\x00y",
        "..",
        "esc\x1b[31m.gguf",
        "new\nline.gguf",
        "del\x7f.gguf",
        "c1\x9b.gguf",
        "x" * 250,
    ],
)
def test_unsafe_names_are_rejected(name: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError):
        check_file_path(name)
    with pytest.raises(UnsafePathError):
        store_path(tmp_path, "org/repo", name)


@pytest.mark.parametrize(
    "repo", ["org", "org/repo/x", "../repo", "org/..", ".hidden/x", "o/.x", "/x"]
)
def test_unsafe_repo_ids_are_rejected(repo: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError):
        store_path(tmp_path, repo, "file.gguf")


def test_store_and_partial_paths(tmp_path: Path) -> None:
    target = store_path(tmp_path, "TheBloke/Llama-2-7B-GGUF", "sub/llama.Q4_K_M.gguf")
    assert target == tmp_path / "TheBloke" / "Llama-2-7B-GGUF" / "sub" / "llama.Q4_K_M.gguf"
    part = partial_path(tmp_path, "TheBloke/Llama-2-7B-GGUF", "sub/llama.Q4_K_M.gguf")
    assert (
        part
        == tmp_path / ".partial" / "TheBloke" / "Llama-2-7B-GGUF" / "sub" / "llama.Q4_K_M.gguf.part"
    )
    # names with dots that are not traversal are fine
    assert store_path(tmp_path, "a.b/c_d-e", "..hidden..gguf").name == "..hidden..gguf"


def test_formats_and_apps() -> None:
    assert repo_formats(["m.Q4_K_M.gguf"]) == ("gguf",)
    assert repo_formats(["model_index.json", "unet/x.safetensors"]) == ("safetensors", "diffusers")
    assert repo_formats(["config.json", "model.safetensors"]) == ("safetensors", "hf-repo")
    assert repo_formats(["config.json", "pytorch_model.bin"]) == ("hf-repo",)
    assert apps_for_file(CATALOG, "pytorch_model.bin") == ()
    assert apps_for_formats(CATALOG, ["gguf"]) == ("koboldcpp", "llama-cpp")
    assert apps_for_file(CATALOG, "x.gguf") == ("koboldcpp", "llama-cpp")
    assert apps_for_file(CATALOG, "v1-5.ckpt") == ("comfyui",)
    assert apps_for_file(CATALOG, "README.md") == ()
    paths = ["config.json", "model.safetensors"]
    assert apps_for_file(CATALOG, "model.safetensors", paths) == ("comfyui", "vllm")
    sd = ["model_index.json", "unet/d.safetensors"]
    assert apps_for_file(CATALOG, "unet/d.safetensors", sd) == ("comfyui", "diffusers-app")


def test_bundled_catalog_maps_gguf_to_llama_cpp() -> None:
    from paitui.services.catalog.loader import load_catalog

    apps = apps_for_file(load_catalog([]), "x.Q4_K_M.gguf")
    assert any("llama" in a for a in apps)
    assert any("kobold" in a for a in apps)


def test_download_progress_numbers() -> None:
    d = Download(
        "a/b/f",
        "a/b",
        RepoFile("f", size=1000),
        "c",
        DownloadState.RUNNING,
        bytes_done=250,
        bytes_total=1000,
        speed=50.0,
    )
    assert d.fraction == 0.25
    assert d.eta_seconds == 15.0
    assert Download("x", "a/b", RepoFile("f"), "c").eta_seconds is None


def test_grouping_sizes_and_fit() -> None:
    items = [
        InstalledModel("a/x", "1.gguf", "/s/a/x/1.gguf", 10, "h", "r", "d"),
        InstalledModel("a/y", "2.gguf", "/s/a/y/2.gguf", 30, "h", "r", "d"),
        InstalledModel("a/x", "0.gguf", "/s/a/x/0.gguf", 5, "h", "r", "d"),
    ]
    groups = group_by_repo(items)
    assert [(g.repo_id, g.size) for g in groups] == [("a/y", 30), ("a/x", 15)]
    assert [f.path for f in groups[1].files] == ["0.gguf", "1.gguf"]
    gib = 1 << 30
    assert vram_fit(4 * gib, 8 * gib) == "fits"
    assert vram_fit(7_500_000_000, 8 * gib) == "tight"
    assert vram_fit(9 * gib, 8 * gib) == "too big"
    assert vram_fit(1, None) is None
    assert human_size(None) == "?"
    assert human_size(999) == "999 B"
    assert human_size(4_370_000_000) == "4.4 GB"


def test_ordinary_names_are_safe(tmp_path: Path) -> None:
    for name in ("model.Q4_K_M.gguf", "unet/diffusion_pytorch_model.safetensors", "é/ü.bin"):
        assert store_path(tmp_path, "org/repo", name).is_relative_to(tmp_path)


def test_split_safe_files() -> None:
    files = [RepoFile("ok.gguf"), RepoFile("../evil"), RepoFile("sub/ok.bin"), RepoFile("/abs")]
    safe, unsafe = split_safe_files(files)
    assert [f.path for f in safe] == ["ok.gguf", "sub/ok.bin"]
    assert unsafe == ("../evil", "/abs")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("0.25", 0.25),
        (" 7 ", 7.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 10.0),  # an HTTP date, 10 s after "now"
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: no wait
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("inf", None),
        ("nan", None),
        ("1e9", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = 1445412470.0  # 2015-10-21 07:27:50 UTC
    assert parse_retry_after(value, now) == expected


def test_retry_policy_backs_off_and_is_bounded() -> None:
    policy = RetryPolicy(attempts=4, base=0.5, cap=3.0, deadline=10.0, max_retry_after=60.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    # Retry-After wins when it asks for longer, never beyond its cap.
    assert policy.delay(1, retry_after=5.0) == 5.0
    assert policy.delay(3, retry_after=0.0) == 2.0
    assert policy.delay(1, retry_after=600.0) == 60.0
    assert policy.gives_up(4, elapsed=1.0, wait=1.0) is None
    assert "5 failures" in (policy.gives_up(5, elapsed=1.0, wait=1.0) or "")
    assert "after 9s" in (policy.gives_up(2, elapsed=9.0, wait=2.0) or "")
    assert "wait 600s" in (policy.gives_up(1, elapsed=0.0, wait=60.0, retry_after=600.0) or "")
