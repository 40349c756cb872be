"""The download manager against the local Hub server: resume, verify, atomicity, faults, limits."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from paitui.domain.models.records import Download, DownloadState, RepoFile
from paitui.services.models.downloads import DownloadError, DownloadManager
from paitui.services.models.hub import HubConfig, HubService
from paitui.services.models.store import ModelStore
from tests.helpers import wait_until
from tests.models.conftest import BIG, GGUF_Q4, GGUF_Q8, TOKEN
from tests.models.hub_server import HubServer

MakeManager = Callable[..., DownloadManager]


def _files(hub: HubService, repo: str, *names: str) -> tuple[str, list[RepoFile]]:
    info = hub.repo_info(repo)
    files = [f for f in info.files if not names or f.path in names]
    return info.commit, files


def _meta(store: ModelStore, repo: str, name: str) -> dict[str, object] | None:
    part = store.partial_for(repo, name)
    meta = part.with_name(part.name + ".json")
    try:
        data: dict[str, object] = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    return data


def test_download_verifies_and_installs(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/tiny-gguf")
    seen: list[Download] = []
    manager = make_manager()
    manager.add_listener(seen.append)
    downloads = manager.enqueue("acme/tiny-gguf", commit, files)
    assert manager.wait(timeout=30)
    states = {d.id: d.state for d in manager.snapshot()}
    assert set(states.values()) == {DownloadState.DONE}, manager.snapshot()
    q4 = store.path_for("acme/tiny-gguf", "tiny.Q4_K_M.gguf")
    assert q4.read_bytes() == GGUF_Q4
    assert store.path_for("acme/tiny-gguf", "tiny.Q8_0.gguf").read_bytes() == GGUF_Q8
    installed = {m.path: m for m in store.installed()}
    assert set(installed) == {"tiny.Q4_K_M.gguf", "tiny.Q8_0.gguf", "README.md"}
    assert installed["tiny.Q4_K_M.gguf"].sha256 == hashlib.sha256(GGUF_Q4).hexdigest()
    assert installed["tiny.Q4_K_M.gguf"].revision == commit
    assert installed["tiny.Q4_K_M.gguf"].formats == ("gguf",)
    assert store.total_size() == len(GGUF_Q4) + len(GGUF_Q8) + len(b"# tiny\n")
    # nothing left in .partial; the index is valid JSON
    assert not any(p.is_file() for p in store.partial_root.rglob("*"))
    json.loads(store.index_path.read_text())
    # states went queued -> running -> verifying -> done for each file
    for d in downloads:
        order = [s.state for s in seen if s.id == d.id]
        assert order[0] == DownloadState.QUEUED
        assert DownloadState.VERIFYING in order
        assert order[-1] == DownloadState.DONE
    # pinned to the commit, the LFS file came from the CDN
    assert all(f"/resolve/{commit}/" in r.path for r in hub_server.gets("/resolve/"))
    # pulling again is a no-op: already installed with the same sha256
    before = len(hub_server.requests)
    again = make_manager().enqueue("acme/tiny-gguf", commit, files)
    assert all(d.state == DownloadState.DONE for d in again)
    assert len(hub_server.requests) == before


def test_token_goes_to_the_hub_only(
    hub_server: HubServer, store: ModelStore, make_manager: MakeManager
) -> None:
    hub = HubService(HubConfig(endpoint=hub_server.url, token=TOKEN))
    commit, files = _files(hub, "acme/gated")
    manager = make_manager(token=TOKEN)
    manager.enqueue("acme/gated", commit, files)
    assert manager.wait(timeout=30)
    assert all(d.state == DownloadState.DONE for d in manager.snapshot()), manager.snapshot()
    hub_gets = [r for r in hub_server.requests if r.server == "hub" and r.method == "GET"]
    cdn_gets = [r for r in hub_server.requests if r.server == "cdn"]
    assert cdn_gets, "the LFS file should come from the CDN"
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in hub_gets)
    assert all("authorization" not in r.headers for r in cdn_gets)


def test_gated_without_token_fails_clearly(
    hub_server: HubServer, store: ModelStore, make_manager: MakeManager
) -> None:
    manager = make_manager()
    f = RepoFile("gated.gguf", size=300_000, sha256="0" * 64)
    manager.enqueue("acme/gated", "main", [f])
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert "gated" in (d.error or "") and "HF_TOKEN" in (d.error or "")


def test_dropped_connection_resumes_with_range(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.faults.drop_after["big.gguf"] = (1_500_000, 2)
    manager = make_manager()
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG
    cdn = hub_server.gets("/repos/")
    assert [r.status for r in cdn] == [200, 206, 206]
    assert cdn[1].headers["range"] == "bytes=1500000-"
    assert cdn[2].headers["range"] == "bytes=3000000-"


def test_server_ignoring_range_restarts_cleanly(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.faults.drop_after["big.gguf"] = (1_000_000, 1)
    hub_server.faults.ignore_range = True
    manager = make_manager()
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG
    cdn = hub_server.gets("/repos/")
    assert cdn[1].headers.get("range") == "bytes=1000000-" and cdn[1].status == 200


def test_sha256_mismatch_is_refused(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/tiny-gguf", "tiny.Q4_K_M.gguf", "README.md")
    hub_server.faults.corrupt = {"tiny.Q4_K_M.gguf", "README.md"}
    manager = make_manager()
    manager.enqueue("acme/tiny-gguf", commit, files)
    assert manager.wait(timeout=30)
    by_path = {d.file.path: d for d in manager.snapshot()}
    q4 = by_path["tiny.Q4_K_M.gguf"]
    assert q4.state == DownloadState.FAILED
    assert "sha256 mismatch" in (q4.error or "") and "removed" in (q4.error or "")
    readme = by_path["README.md"]
    assert readme.state == DownloadState.FAILED
    assert "git blob id mismatch" in (readme.error or "")
    for name in ("tiny.Q4_K_M.gguf", "README.md"):
        assert not store.path_for("acme/tiny-gguf", name).exists()
        assert not store.partial_for("acme/tiny-gguf", name).exists()
    assert store.installed() == []


def test_stall_is_retried_with_backoff(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.faults.stall_after["big.gguf"] = (800_000, 1)
    errors: list[str] = []
    manager = make_manager(read_timeout=0.5)
    manager.add_listener(lambda d: errors.append(d.error) if d.error else None)
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG
    assert any("retrying" in e for e in errors)
    cdn = hub_server.gets("/repos/")
    assert cdn[-1].headers["range"] == "bytes=800000-" and cdn[-1].status == 206


def test_endless_stall_fails_with_a_clear_message(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.faults.stall_after["big.gguf"] = (0, 99)
    manager = make_manager(read_timeout=0.3, max_retries=1)
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert "stalled" in (d.error or "") and "pull again" in (d.error or "")
    assert not store.path_for("acme/big", "big.gguf").exists()
    meta = _meta(store, "acme/big", "big.gguf")
    assert meta is not None and meta["bytes_done"] == 0


def test_cancel_keeps_the_partial_and_a_new_pull_continues(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.faults.throttle = 2_000_000
    manager = make_manager(checkpoint_interval=0.1)
    manager.enqueue("acme/big", commit, files)
    wait_until(lambda: manager.snapshot()[0].bytes_done > 300_000, what="some bytes")
    manager.cancel("acme/big/big.gguf")
    assert manager.wait(timeout=10)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.CANCELLED
    assert not store.path_for("acme/big", "big.gguf").exists()
    part = store.partial_for("acme/big", "big.gguf")
    meta = _meta(store, "acme/big", "big.gguf")
    assert meta is not None
    kept = int(str(meta["bytes_done"]))
    assert 0 < kept == part.stat().st_size < len(BIG)
    assert part.read_bytes() == BIG[:kept]
    # a new manager (a new process, say) continues from the partial
    hub_server.faults.throttle = 0
    other = make_manager()
    other.enqueue("acme/big", commit, files)
    assert other.wait(timeout=30)
    d = other.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert d.resumed_from == kept
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG
    assert hub_server.gets("/repos/")[-1].headers["range"] == f"bytes={kept}-"


def test_pause_and_resume(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.faults.throttle = 2_000_000
    manager = make_manager()
    manager.enqueue("acme/big", commit, files)
    wait_until(lambda: manager.snapshot()[0].bytes_done > 200_000, what="some bytes")
    manager.pause("acme/big/big.gguf")
    wait_until(lambda: manager.snapshot()[0].state == DownloadState.PAUSED, what="paused")
    hub_server.faults.throttle = 0
    wait_until(lambda: not _alive(manager), what="thread stopped")
    manager.resume("acme/big/big.gguf")
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert d.resumed_from > 0
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG


def _alive(manager: DownloadManager) -> bool:
    return any(t.name.startswith("download ") and t.is_alive() for t in threading.enumerate())


def test_concurrency_limit(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/tiny-gguf")
    hub_server.faults.throttle = 20_000_000
    running_counts: list[int] = []
    manager = make_manager(concurrency=1)

    def listen(_: Download) -> None:
        running_counts.append(
            sum(1 for d in manager.snapshot() if d.state == DownloadState.RUNNING)
        )

    manager.add_listener(listen)
    manager.enqueue("acme/tiny-gguf", commit, files)
    assert manager.wait(timeout=30)
    assert all(d.state == DownloadState.DONE for d in manager.snapshot())
    assert max(running_counts) == 1


def test_unsafe_file_names_are_rejected(
    store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    manager = make_manager()
    for bad in ("../escape.gguf", "/etc/passwd", "a/../../b", "ok/./x", "C:/x", "a\\b"):
        with pytest.raises(DownloadError, match="unsafe file name"):
            manager.enqueue("acme/tiny-gguf", "main", [RepoFile(bad, size=1)])
    with pytest.raises(DownloadError, match="not a valid repo id"):
        manager.enqueue("../acme", "main", [RepoFile("x", size=1)])
    assert hub_server.requests == []
    assert not store.root.exists() or not any(store.root.rglob("*"))


def test_not_enough_space_is_refused_before_starting(
    hub: HubService,
    make_manager: MakeManager,
    small_fs: Callable[[str], Path],
    hub_server: HubServer,
) -> None:
    small = ModelStore(small_fs("2m"))
    commit, files = _files(hub, "acme/big")
    manager = make_manager(root=small)
    with pytest.raises(DownloadError) as caught:
        manager.enqueue("acme/big", commit, files)
    message = str(caught.value)
    assert "needs 4.0 MB" in message and "free on" in message and str(small.root) in message
    assert hub_server.gets("/repos/") == []


def test_full_disk_mid_transfer_leaves_nothing_corrupt(
    hub: HubService,
    make_manager: MakeManager,
    small_fs: Callable[[str], Path],
    hub_server: HubServer,
) -> None:
    root = small_fs("5m")
    small = ModelStore(root / "models")
    commit, files = _files(hub, "acme/big")
    hub_server.faults.throttle = 4_000_000
    manager = make_manager(root=small, checkpoint_interval=0.1)
    manager.enqueue("acme/big", commit, files)
    wait_until(lambda: manager.snapshot()[0].bytes_done > 500_000, what="some bytes")
    # Something else fills the disk while the download runs.
    filler = root / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert "disk full" in (d.error or "") and "pull again" in (d.error or "")
    final = small.path_for("acme/big", "big.gguf")
    assert not final.exists()
    part = small.partial_for("acme/big", "big.gguf")
    meta = _meta(small, "acme/big", "big.gguf")
    assert meta is not None
    kept = int(str(meta["bytes_done"]))
    assert kept == part.stat().st_size > 0
    assert part.read_bytes() == BIG[:kept]
    assert small.installed() == []
    # Space is freed; the next pull continues from the kept bytes.
    filler.unlink()
    hub_server.faults.throttle = 0
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert d.resumed_from == kept
    assert final.read_bytes() == BIG


def test_killed_pull_process_resumes_from_the_partial(hub_env: HubServer, tmp_path: Path) -> None:
    """SIGKILL a real ``paitui models pull``; the next run continues with a 206."""
    env = {**os.environ, "PAITUI_STATE_DIR": str(tmp_path / "state"), "HF_TOKEN": TOKEN}
    store = ModelStore(tmp_path / "state" / "models")
    cmd = [sys.executable, "-m", "paitui", "models", "pull", "acme/big", "big.gguf"]
    hub_env.faults.throttle = 1_000_000
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(
            lambda: int(str((_meta(store, "acme/big", "big.gguf") or {}).get("bytes_done", 0))) > 0,
            timeout=20,
            what="a checkpoint of the partial",
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        out1 = proc.communicate(timeout=10)[0].decode()
    assert proc.returncode == -signal.SIGKILL
    assert not store.path_for("acme/big", "big.gguf").exists()
    meta = _meta(store, "acme/big", "big.gguf")
    assert meta is not None
    kept = int(str(meta["bytes_done"]))
    hub_env.faults.throttle = 0
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG
    last = hub_env.gets("/repos/")[-1]
    assert last.status == 206
    start = int(last.headers["range"].removeprefix("bytes=").rstrip("-"))
    # The killed run may have written beyond its last checkpoint; only the checkpoint counts.
    assert start == kept
    assert "verified" in done.stdout
    assert TOKEN not in out1 + done.stdout + done.stderr


@pytest.mark.parametrize(
    "sig", [signal.SIGHUP, signal.SIGTERM, None], ids=["hangup", "term", "output-closed"]
)
def test_a_hung_up_pull_keeps_every_byte_it_wrote(
    hub_env: HubServer, tmp_path: Path, sig: signal.Signals | None
) -> None:
    """An SSH session cut (SIGHUP, or only its output closed) or a SIGTERM pauses a real
    ``paitui models pull`` as Ctrl-C does: what arrived since the last checkpoint is recorded,
    and the next run continues there."""
    env = {**os.environ, "PAITUI_STATE_DIR": str(tmp_path / "state"), "HF_TOKEN": TOKEN}
    store = ModelStore(tmp_path / "state" / "models")
    part = store.partial_for("acme/big", "big.gguf")
    cmd = [sys.executable, "-m", "paitui", "models", "pull", "acme/big", "big.gguf"]
    hub_env.faults.throttle = 1_000_000
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(
            lambda: part.exists() and part.stat().st_size > 0, timeout=20, what="partial data"
        )
        if sig is None:
            assert proc.stdout is not None
            proc.stdout.close()  # its next progress line meets a closed pipe
            assert proc.stderr is not None
            proc.wait(timeout=20)
            err = proc.stderr.read().decode()
        else:
            proc.send_signal(sig)
            err = proc.communicate(timeout=20)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "paused: run the same command again" in err
    meta = _meta(store, "acme/big", "big.gguf")
    assert meta is not None, (err, list(store.root.rglob("*")))
    kept = int(str(meta["bytes_done"]))
    assert kept == part.stat().st_size > 0
    assert part.read_bytes() == BIG[:kept]
    hub_env.faults.throttle = 0
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG
    last = hub_env.gets("/repos/")[-1]
    assert last.status == 206 and last.headers["range"] == f"bytes={kept}-"


def test_token_never_in_logs_or_messages(
    hub_server: HubServer, make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hub = HubService(HubConfig(endpoint=hub_server.url, token=TOKEN))
    info = hub.repo_info("acme/gated")
    hub_server.faults.corrupt = {"gated.gguf"}
    manager = make_manager(token=TOKEN)
    seen: list[Download] = []
    manager.add_listener(seen.append)
    manager.enqueue("acme/gated", info.commit, info.files)
    assert manager.wait(timeout=30)
    assert any(d.state == DownloadState.FAILED for d in manager.snapshot())
    bad = HubService(HubConfig(endpoint=hub_server.url, token=TOKEN))
    with pytest.raises(Exception) as caught:
        bad.repo_info("acme/gated", revision="nope")
    texts = [caplog.text, repr(hub.config), str(caught.value), *(repr(d) for d in seen)]
    assert all(TOKEN not in t for t in texts)
    assert any(
        "Authorization" in str(r.headers) or "authorization" in r.headers
        for r in hub_server.requests
    )  # it was sent, just never shown


def test_store_remove(hub: HubService, store: ModelStore, make_manager: MakeManager) -> None:
    commit, files = _files(hub, "acme/tiny-gguf")
    manager = make_manager()
    manager.enqueue("acme/tiny-gguf", commit, files)
    assert manager.wait(timeout=30)
    gone = store.remove("acme/tiny-gguf", "tiny.Q8_0.gguf")
    assert [g.path for g in gone] == ["tiny.Q8_0.gguf"]
    assert not store.path_for("acme/tiny-gguf", "tiny.Q8_0.gguf").exists()
    assert {m.path for m in store.installed()} == {"tiny.Q4_K_M.gguf", "README.md"}
    store.remove("acme/tiny-gguf")
    assert store.installed() == []
    assert not (store.root / "acme").exists()
    shutil.rmtree(store.root)


def test_same_file_in_two_managers_is_refused(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    """Two pulls of one file (a UI and a CLI, say) never write the same partial."""
    commit, files = _files(hub, "acme/big")
    hub_server.faults.throttle = 2_000_000
    first = make_manager()
    first.enqueue("acme/big", commit, files)
    wait_until(lambda: first.snapshot()[0].bytes_done > 0, what="the first to start")
    second = make_manager()
    second.enqueue("acme/big", commit, files, check_space=False)
    assert second.wait(timeout=10)
    d = second.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert "another paitui process" in (d.error or "")
    hub_server.faults.throttle = 0
    assert first.wait(timeout=30)
    assert first.snapshot()[0].state == DownloadState.DONE
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG


def _cancel_midway(
    manager: DownloadManager, hub_server: HubServer, commit: str, files: list[RepoFile]
) -> None:
    hub_server.faults.throttle = 2_000_000
    manager.enqueue("acme/big", commit, files)
    wait_until(lambda: manager.snapshot()[0].bytes_done > 300_000, what="some bytes")
    manager.cancel("acme/big/big.gguf")
    assert manager.wait(timeout=10)
    hub_server.faults.throttle = 0


def test_torn_tail_after_a_crash_is_cut_back_to_the_checkpoint(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    """After a power loss the partial may hold bytes the metadata never vouched for."""
    commit, files = _files(hub, "acme/big")
    _cancel_midway(make_manager(checkpoint_interval=0.1), hub_server, commit, files)
    meta = _meta(store, "acme/big", "big.gguf")
    assert meta is not None
    kept = int(str(meta["bytes_done"]))
    with open(store.partial_for("acme/big", "big.gguf"), "ab") as fh:
        fh.write(b"\xff" * 123_456)  # garbage past the checkpoint
    again = make_manager()
    again.enqueue("acme/big", commit, files)
    assert again.wait(timeout=30)
    d = again.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert d.resumed_from == kept
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG


def test_partial_of_other_content_is_not_reused(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    """If the repo changed the file since, the old partial is dropped, not spliced."""
    commit, files = _files(hub, "acme/big")
    _cancel_midway(make_manager(checkpoint_interval=0.1), hub_server, commit, files)
    from tests.models.hub_server import make_repo

    new_content = bytes(reversed(BIG))
    hub_server.add(make_repo("acme/big", {"big.gguf": new_content}))
    commit2, files2 = _files(hub, "acme/big")
    assert files2[0].sha256 != files[0].sha256
    again = make_manager()
    again.enqueue("acme/big", commit2, files2)
    assert again.wait(timeout=30)
    d = again.snapshot()[0]
    assert d.state == DownloadState.DONE, d.error
    assert d.resumed_from == 0
    assert "range" not in hub_server.gets("/repos/")[-1].headers
    assert store.path_for("acme/big", "big.gguf").read_bytes() == new_content


def test_cancel_of_a_stalled_download_ends_at_once(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    commit, files = _files(hub, "acme/big")
    hub_server.faults.stall_after["big.gguf"] = (300_000, 1)
    manager = make_manager(read_timeout=30.0, checkpoint_interval=0.05)
    manager.enqueue("acme/big", commit, files)
    # The server has sent its bytes and now sends nothing: the read blocks for up to 30 s.
    wait_until(lambda: hub_server.gets("/repos/"), what="the transfer under way")
    wait_until(lambda: _meta(store, "acme/big", "big.gguf") is not None, what="a checkpoint")
    started = time.monotonic()
    manager.cancel("acme/big/big.gguf")
    assert manager.wait(timeout=10)
    assert time.monotonic() - started < 5.0
    hub_server.faults.release.set()
    assert manager.snapshot()[0].state == DownloadState.CANCELLED
    assert not store.path_for("acme/big", "big.gguf").exists()
