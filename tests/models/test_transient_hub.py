"""Transient Hub errors: 429 (with Retry-After) and 5xx are retried with bounded backoff; 401/403
without an error code say what to do about the token or the gated terms.

The server's Retry-After values are small and the backoff base tiny, so these tests do not wait.
"""

from __future__ import annotations

import time

import pytest

from paitui.cli.main import main
from paitui.domain.models.records import Download, DownloadState, RetryPolicy
from paitui.services.models.hub import HubConfig, HubError, HubService
from paitui.services.models.store import ModelStore
from tests.helpers import wait_until
from tests.models.conftest import BIG, TOKEN
from tests.models.hub_server import HubServer, Recorded
from tests.models.test_downloads import MakeManager, _files

FAST = RetryPolicy(base=0.01, cap=0.05)


def _for(server: HubServer, name: str) -> list[Recorded]:
    """Requests for one file, to the hub (resolve) and to the CDN."""
    return [r for r in server.requests if r.path.endswith(f"/{name}") or f"path={name}" in r.path]


def _errors(manager_seen: list[Download]) -> list[str]:
    return [d.error for d in manager_seen if d.error]


def test_503_is_retried_then_the_download_completes(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.answer("big.gguf", 503, times=2)
    seen: list[Download] = []
    manager = make_manager(backoff=0.01)
    manager.add_listener(seen.append)
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG
    assert [r.status for r in _for(hub_server, "big.gguf")] == [503, 503, 302, 200]
    notes = _errors(seen)
    assert any("HTTP 503" in e and "retrying in" in e for e in notes), notes


def test_429_retry_after_is_honoured(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/tiny-gguf", "tiny.Q4_K_M.gguf")
    hub_server.answer("tiny.Q4_K_M.gguf", 429, headers={"Retry-After": "1"})
    manager = make_manager(backoff=0.01)
    manager.enqueue("acme/tiny-gguf", commit, files)
    assert manager.wait(timeout=30)
    assert manager.snapshot()[0].state == DownloadState.DONE
    asked = _for(hub_server, "tiny.Q4_K_M.gguf")
    assert [r.status for r in asked] == [429, 302, 200]
    # The backoff alone would have waited 0.01 s: the gap is the server's Retry-After.
    assert asked[1].time - asked[0].time >= 0.95


def test_429_asking_too_long_fails_at_once_with_advice(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/tiny-gguf", "tiny.Q4_K_M.gguf")
    hub_server.answer("tiny.Q4_K_M.gguf", 429, headers={"Retry-After": "3600"})
    manager = make_manager(backoff=0.01, max_retry_after=60)
    started = time.monotonic()
    manager.enqueue("acme/tiny-gguf", commit, files)
    assert manager.wait(timeout=10)
    assert time.monotonic() - started < 5
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    error = d.error or ""
    assert "HTTP 429" in error and "wait 3600s" in error and "HF_TOKEN" in error, error
    assert len(_for(hub_server, "tiny.Q4_K_M.gguf")) == 1


def test_endless_5xx_is_bounded_by_the_count(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.answer("big.gguf", 500, times=50)
    manager = make_manager(backoff=0.01, max_retries=3)
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert "HTTP 500" in (d.error or "") and "pull again" in (d.error or ""), d.error
    assert len(_for(hub_server, "big.gguf")) == 4  # the first try and 3 retries
    assert not store.path_for("acme/big", "big.gguf").exists()


def test_endless_5xx_is_bounded_by_the_deadline(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.answer("big.gguf", 502, times=500)
    manager = make_manager(backoff=0.05, max_backoff=0.05, max_retries=1000, retry_deadline=0.5)
    started = time.monotonic()
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    took = time.monotonic() - started
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert "HTTP 502" in (d.error or "") and "still failing after" in (d.error or ""), d.error
    assert took < 5
    assert 3 <= len(_for(hub_server, "big.gguf")) <= 20


def test_cancel_during_a_backoff_wait(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.answer("big.gguf", 429, headers={"Retry-After": "30"})
    manager = make_manager(backoff=0.01)
    manager.enqueue("acme/big", commit, files)
    wait_until(
        lambda: "retrying in 30" in (manager.snapshot()[0].error or ""), what="the backoff wait"
    )
    started = time.monotonic()
    manager.cancel("acme/big/big.gguf")
    assert manager.wait(timeout=5)
    assert time.monotonic() - started < 3
    assert manager.snapshot()[0].state == DownloadState.CANCELLED
    assert len(_for(hub_server, "big.gguf")) == 1


def test_503_after_a_drop_resumes_from_the_kept_bytes(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.faults.drop_after["big.gguf"] = (1_500_000, 1)
    manager = make_manager(backoff=0.01)
    manager.enqueue("acme/big", commit, files)
    # The drop consumes the first CDN answer; then the hub is busy once.
    wait_until(lambda: len(hub_server.gets("/repos/")) >= 1, what="the first transfer")
    hub_server.answer("big.gguf", 503)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG
    last = hub_server.gets("/repos/")[-1]
    assert last.status == 206 and last.headers["range"] == "bytes=1500000-"


@pytest.mark.parametrize(
    ("status", "with_token", "words"),
    [
        (401, False, ["needs a token", "HF_TOKEN"]),
        (401, True, ["refused the token", "HF_TOKEN"]),
        (403, False, ["access denied", "gated", "accept its terms", "HF_TOKEN"]),
        (403, True, ["access denied", "accept its terms", "read access"]),
    ],
)
def test_401_403_without_error_code_explain_the_token(
    hub: HubService,
    make_manager: MakeManager,
    hub_server: HubServer,
    status: int,
    with_token: bool,
    words: list[str],
) -> None:
    commit, files = _files(hub, "acme/tiny-gguf", "tiny.Q4_K_M.gguf")
    hub_server.answer("tiny.Q4_K_M.gguf", status)
    manager = make_manager(token=TOKEN if with_token else None, backoff=0.01)
    manager.enqueue("acme/tiny-gguf", commit, files)
    assert manager.wait(timeout=10)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert all(w in (d.error or "") for w in words), d.error
    assert TOKEN not in (d.error or "")
    assert len(_for(hub_server, "tiny.Q4_K_M.gguf")) == 1  # not retried


def test_repo_info_retries_busy_answers(hub_server: HubServer) -> None:
    hub = HubService(HubConfig(endpoint=hub_server.url, retry=FAST))
    hub_server.answer("@api", 503)
    hub_server.answer("@api", 429, headers={"Retry-After": "0"})
    notes: list[str] = []
    info = hub.repo_info("acme/tiny-gguf", on_retry=notes.append)
    assert info.file("tiny.Q4_K_M.gguf") is not None
    api = [r.status for r in hub_server.requests if r.path.startswith("/api/models/")]
    assert api == [503, 429, 200]
    assert len(notes) == 2 and "HTTP 503" in notes[0] and "HTTP 429" in notes[1], notes


def test_repo_info_gives_up_with_a_clear_message(hub_server: HubServer) -> None:
    hub = HubService(HubConfig(endpoint=hub_server.url, retry=RetryPolicy(attempts=2, base=0.01)))
    hub_server.answer("@api", 502, times=10)
    with pytest.raises(HubError) as caught:
        hub.repo_info("acme/tiny-gguf")
    assert caught.value.kind == "busy"
    assert "HTTP 502" in str(caught.value) and "try again" in str(caught.value)
    assert len([r for r in hub_server.requests if r.path.startswith("/api/models/")]) == 3


@pytest.mark.parametrize(
    ("status", "with_token", "kind", "words"),
    [
        (403, False, "auth", ["access denied", "HF_TOKEN"]),
        (403, True, "auth", ["accept its terms", "read access"]),
        (401, False, "auth", ["needs a token", "HF_TOKEN", "accept its terms"]),
        (401, True, "auth", ["refused the token", "HF_TOKEN"]),
    ],
)
def test_repo_info_401_403_without_error_code(
    hub_server: HubServer, status: int, with_token: bool, kind: str, words: list[str]
) -> None:
    token = TOKEN if with_token else None
    hub = HubService(HubConfig(endpoint=hub_server.url, token=token, retry=FAST))
    hub_server.answer("@api", status)
    with pytest.raises(HubError) as caught:
        hub.repo_info("acme/tiny-gguf")
    assert caught.value.kind == kind
    assert all(w in str(caught.value) for w in words), str(caught.value)
    assert TOKEN not in str(caught.value)


def test_cli_pull_rides_out_busy_answers(
    hub_env: HubServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PAITUI_HUB_RETRY_BASE", "0.01")
    hub_env.answer("@api", 503)
    hub_env.answer("tiny.Q4_K_M.gguf", 429, headers={"Retry-After": "0"})
    assert main(["models", "pull", "acme/tiny-gguf", "tiny.Q4_K_M.gguf"]) == 0
    out = capsys.readouterr()
    assert "HTTP 503" in out.err and "retrying in" in out.err
    assert "HTTP 429" in out.out and "retrying in" in out.out
    assert "done, verified" in out.out
