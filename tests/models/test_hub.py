"""The hub service against the local Hub server; and huggingface_hub itself against that server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from paitui.services.models.hub import HubConfig, HubError, HubService
from tests.models.conftest import GGUF_Q4, TOKEN
from tests.models.hub_server import HubServer


def test_search_filters_and_sorts(hub: HubService) -> None:
    by_downloads = hub.search("acme", sort="downloads")
    assert [r.repo_id for r in by_downloads][:2] == ["acme/tiny-gguf", "acme/tiny-sd"]
    by_likes = hub.search("acme", sort="likes")
    assert by_likes[0].repo_id == "acme/tiny-sd"
    assert by_likes[0].likes == 40
    gguf = {r.repo_id for r in hub.search("tiny", formats=["gguf"])}
    assert gguf == {"acme/tiny-gguf"}
    sd = hub.search("tiny", formats=["diffusers"])
    assert [r.repo_id for r in sd] == ["acme/tiny-sd"]
    assert sd[0].size == 50_000 + 20_000 + len(b'{"_class_name": "StableDiffusionPipeline"}')
    assert hub.search("nothing-like-this") == []


def test_search_rejects_unknown_filter(hub: HubService) -> None:
    with pytest.raises(HubError, match="unknown format filter"):
        hub.search("x", formats=["onnx"])


def test_repo_info_has_sizes_and_checksums(hub: HubService, hub_server: HubServer) -> None:
    info = hub.repo_info("acme/tiny-gguf")
    assert info.commit == hub_server.repos["acme/tiny-gguf"].commit
    q4 = info.file("tiny.Q4_K_M.gguf")
    assert q4 is not None and q4.lfs
    assert q4.size == len(GGUF_Q4)
    assert q4.sha256 == hashlib.sha256(GGUF_Q4).hexdigest()
    readme = info.file("README.md")
    assert readme is not None and not readme.lfs
    content = b"# tiny\n"
    assert readme.blob_id == hashlib.sha1(b"blob %d\x00" % len(content) + content).hexdigest()
    assert readme.size == len(content)
    # the /revision/{rev} form, by commit
    assert hub.repo_info("acme/tiny-gguf", revision=info.commit).commit == info.commit


@pytest.mark.parametrize(
    ("repo", "revision", "kind", "words"),
    [
        ("acme/missing", None, "not-found", "not found"),
        ("acme/tiny-gguf", "v9", "revision", "no revision 'v9'"),
        ("acme/gated", None, "gated", "gated"),
        ("not-a-repo-id", None, "not-found", "not a valid repo id"),
    ],
)
def test_repo_info_errors_are_readable(
    hub: HubService, repo: str, revision: str | None, kind: str, words: str
) -> None:
    with pytest.raises(HubError) as caught:
        hub.repo_info(repo, revision=revision)
    assert caught.value.kind == kind
    assert words in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_gated_repo_with_token(hub_server: HubServer) -> None:
    hub = HubService(HubConfig(endpoint=hub_server.url, token=TOKEN))
    info = hub.repo_info("acme/gated")
    assert {f.path for f in info.files} == {"gated.gguf", "config.json"}


def test_offline_never_contacts_the_hub(hub_server: HubServer) -> None:
    hub = HubService(HubConfig(endpoint=hub_server.url, offline=True))
    with pytest.raises(HubError) as caught:
        hub.search("tiny")
    assert caught.value.kind == "offline"
    with pytest.raises(HubError):
        hub.repo_info("acme/tiny-gguf")
    assert hub_server.requests == []


def test_unreachable_hub_is_a_connection_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hub = HubService(HubConfig(endpoint=f"http://127.0.0.1:{port}", timeout=2))
    with pytest.raises(HubError) as caught:
        hub.repo_info("acme/tiny-gguf")
    assert caught.value.kind == "connection"
    assert "unreachable" in str(caught.value)


def test_config_from_env(tmp_path: Path) -> None:
    home = tmp_path / "hf"
    home.mkdir()
    (home / "token").write_text(TOKEN + "\n")
    cfg = HubConfig.from_env({"HF_HOME": str(home), "HF_ENDPOINT": "http://mirror.example/"})
    assert cfg.token == TOKEN
    assert cfg.endpoint == "http://mirror.example"
    assert not cfg.offline
    assert TOKEN not in repr(cfg)
    env = {"HF_HOME": str(home), "HF_TOKEN": "hf_other", "HF_HUB_OFFLINE": "1"}
    cfg = HubConfig.from_env(env)
    assert cfg.token == "hf_other"
    assert cfg.offline
    cfg = HubConfig.from_env({"HF_HOME": str(tmp_path / "none")})
    assert cfg.token is None
    assert cfg.endpoint == "https://huggingface.co"


def test_huggingface_hub_downloads_from_the_server(hub_server: HubServer, tmp_path: Path) -> None:
    """huggingface_hub's own client accepts the server: the protocol is faithful."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    path = hf_hub_download(
        "acme/tiny-gguf", "tiny.Q4_K_M.gguf", cache_dir=tmp_path / "c", endpoint=hub_server.url
    )
    assert hashlib.sha256(Path(path).read_bytes()).digest() == hashlib.sha256(GGUF_Q4).digest()
    # The LFS file went through the CDN port, the hub answered 302.
    assert any(r.server == "cdn" and r.status == 200 for r in hub_server.requests)
    assert any(r.server == "hub" and r.status == 302 for r in hub_server.requests)
    snap = snapshot_download("acme/tiny-sd", cache_dir=tmp_path / "c", endpoint=hub_server.url)
    assert (Path(snap) / "unet" / "diffusion_pytorch_model.safetensors").stat().st_size == 50_000
    api = HfApi(endpoint=hub_server.url, token=False)
    tree = {e.path for e in api.list_repo_tree("acme/tiny-sd", recursive=True)}
    assert tree == {
        "model_index.json",
        "unet",
        "unet/diffusion_pytorch_model.safetensors",
        "v1.ckpt",
    }
    from huggingface_hub.errors import (
        GatedRepoError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(
            "acme/tiny-gguf", "nope.gguf", cache_dir=tmp_path / "c", endpoint=hub_server.url
        )
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(
            "acme/tiny-gguf",
            "README.md",
            revision="v9",
            cache_dir=tmp_path / "c",
            endpoint=hub_server.url,
        )
    with pytest.raises(GatedRepoError):
        hf_hub_download(
            "acme/gated", "config.json", cache_dir=tmp_path / "c", endpoint=hub_server.url
        )
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("acme/absent", "x", cache_dir=tmp_path / "c", endpoint=hub_server.url)


def test_huggingface_hub_recovers_from_a_dropped_transfer(
    hub_server: HubServer, tmp_path: Path
) -> None:
    """huggingface_hub retries a dropped connection (it keeps nothing under its 10 MB chunk size,
    so the retry starts over); our server must let it finish."""
    from huggingface_hub import hf_hub_download

    hub_server.faults.drop_after["tiny.Q4_K_M.gguf"] = (700_000, 1)
    path = hf_hub_download(
        "acme/tiny-gguf", "tiny.Q4_K_M.gguf", cache_dir=tmp_path / "c", endpoint=hub_server.url
    )
    assert Path(path).read_bytes() == GGUF_Q4
    assert len(hub_server.gets("/repos/")) == 2


def test_server_answers_ranges_like_the_hub(hub_server: HubServer) -> None:
    import httpx

    url = f"{hub_server.url}/acme/tiny-gguf/resolve/main/tiny.Q4_K_M.gguf"
    head = httpx.head(url, headers={"Accept-Encoding": "identity"})
    assert head.status_code == 302
    assert head.headers["x-repo-commit"] == hub_server.repos["acme/tiny-gguf"].commit
    assert head.headers["x-linked-etag"] == f'"{hashlib.sha256(GGUF_Q4).hexdigest()}"'
    assert head.headers["x-linked-size"] == str(len(GGUF_Q4))
    cdn = head.headers["location"]
    assert f":{hub_server.cdn_port}/" in cdn
    part = httpx.get(cdn, headers={"Range": "bytes=1000-"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-{len(GGUF_Q4) - 1}/{len(GGUF_Q4)}"
    assert part.content == GGUF_Q4[1000:]
    small = httpx.get(f"{hub_server.url}/acme/tiny-gguf/resolve/main/README.md")
    assert small.status_code == 200 and small.content == b"# tiny\n"
    assert small.headers["etag"].strip('"') == hashlib.sha1(b"blob 7\x00# tiny\n").hexdigest()
    assert httpx.get(f"{hub_server.url}/api/agent-harnesses").status_code == 404
