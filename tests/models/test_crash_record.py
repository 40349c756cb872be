"""A crash between installing a file and recording it: the store finds and adopts the file.

The real thing: ``paitui models pull`` kills itself (SIGKILL, through the off-by-default
``PAITUI_DEBUG_KILL_AT`` hook) at exactly that step; then ``ls`` shows the file, a new pull does not
fetch it again and ``rm`` deletes it. The store adopts only what its own verified sidecar vouches
for: these tests also try sidecars that lie about the file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.models.records import DownloadState
from paitui.services.models.downloads import DEBUG_KILL_ENV
from paitui.services.models.hub import HubService
from paitui.services.models.store import ModelStore
from tests.models.conftest import BIG, GGUF_Q4
from tests.models.hub_server import HubServer
from tests.models.test_downloads import MakeManager, _files

PULL = ["models", "pull", "acme/big", "big.gguf"]


def _paitui(
    env: dict[str, str], *args: str, kill_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    run_env = dict(env)
    if kill_at:
        run_env[DEBUG_KILL_ENV] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _index(store: ModelStore) -> dict[str, Any]:
    try:
        files: dict[str, Any] = json.loads(store.index_path.read_text())["files"]
    except FileNotFoundError:
        return {}
    return files


def _sidecar(store: ModelStore, repo: str, name: str) -> Path:
    part = store.partial_for(repo, name)
    return part.with_name(part.name + ".json")


def _file_gets(server: HubServer) -> int:
    """GETs of file data (hub resolve and CDN), not of the API."""
    return len(server.gets("/resolve/")) + len(server.gets("/repos/"))


@pytest.fixture
def cli_env(hub_env: HubServer, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PAITUI_STATE_DIR": str(tmp_path / "state")}
    env.pop(DEBUG_KILL_ENV, None)
    return env


def test_killed_between_install_and_record_then_ls_pull_rm(
    hub_env: HubServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    store = ModelStore(tmp_path / "state" / "models")
    target = store.path_for("acme/big", "big.gguf")
    crashed = _paitui(cli_env, *PULL, kill_at="installed")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    # Killed at exactly that step: the verified file is in place, the index does not have it.
    assert target.read_bytes() == BIG
    assert "acme/big/big.gguf" not in _index(store)
    assert _sidecar(store, "acme/big", "big.gguf").exists()
    fetched = _file_gets(hub_env)
    assert fetched >= 2

    # A new pull finds it (adopting it) and fetches nothing.
    again = _paitui(cli_env, *PULL)
    assert again.returncode == 0, again.stderr
    assert "done, verified" in again.stdout
    assert _file_gets(hub_env) == fetched
    assert not _sidecar(store, "acme/big", "big.gguf").exists()

    listing = _paitui(cli_env, "models", "ls", "--json")
    assert listing.returncode == 0, listing.stderr
    files = [f for r in json.loads(listing.stdout)["repos"] for f in r["files"]]
    assert [(f["path"], f["size"], f["sha256"]) for f in files] == [
        ("big.gguf", len(BIG), hashlib.sha256(BIG).hexdigest())
    ]

    gone = _paitui(cli_env, "models", "rm", "acme/big/big.gguf", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert not target.exists()
    assert store.installed() == []


def test_killed_then_ls_shows_it_and_rm_deletes_it(
    hub_env: HubServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """ls first (adopts), then rm straight after another crash (rm adopts too)."""
    store = ModelStore(tmp_path / "state" / "models")
    target = store.path_for("acme/big", "big.gguf")
    assert _paitui(cli_env, *PULL, kill_at="installed").returncode == -signal.SIGKILL
    listing = _paitui(cli_env, "models", "ls")
    assert listing.returncode == 0 and "big.gguf" in listing.stdout, listing.stdout
    assert "acme/big/big.gguf" in _index(store)
    # Second crash, this time of another file; rm of the whole repo deletes both.
    hub_env.add(hub_env.repos["acme/big"])
    assert _paitui(cli_env, *PULL, kill_at="installed").returncode == 0  # already there
    pulled = _paitui(
        cli_env, "models", "pull", "acme/tiny-gguf", "tiny.Q4_K_M.gguf", kill_at="installed"
    )
    assert pulled.returncode == -signal.SIGKILL
    q4 = store.path_for("acme/tiny-gguf", "tiny.Q4_K_M.gguf")
    assert q4.read_bytes() == GGUF_Q4
    gone = _paitui(cli_env, "models", "rm", "acme/tiny-gguf", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert "deleted 1 file(s)" in gone.stdout
    assert not q4.exists() and target.exists()
    assert not _sidecar(store, "acme/tiny-gguf", "tiny.Q4_K_M.gguf").exists()


def test_killed_just_before_the_rename_finishes_without_fetching(
    hub_env: HubServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    store = ModelStore(tmp_path / "state" / "models")
    assert _paitui(cli_env, *PULL, kill_at="verified").returncode == -signal.SIGKILL
    assert not store.path_for("acme/big", "big.gguf").exists()
    assert store.installed() == []  # not installed yet: nothing to adopt
    fetched = _file_gets(hub_env)
    again = _paitui(cli_env, *PULL)
    assert again.returncode == 0, again.stderr
    assert _file_gets(hub_env) == fetched
    assert store.path_for("acme/big", "big.gguf").read_bytes() == BIG
    assert [m.path for m in store.installed()] == ["big.gguf"]


def _orphan(
    hub: HubService, store: ModelStore, make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Install big.gguf while the index cannot be written (a full disk at that moment)."""
    commit, files = _files(hub, "acme/big")

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(store, "record", full)
        manager = make_manager()
        manager.enqueue("acme/big", commit, files)
        assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert "installed" in (d.error or "") and "picked up" in (d.error or ""), d.error
    assert _index(store) == {}
    return store.path_for("acme/big", "big.gguf")


def test_index_write_failure_is_adopted_later(
    hub: HubService, store: ModelStore, make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _orphan(hub, store, make_manager, monkeypatch)
    installed = store.installed()
    assert [(m.path, m.sha256) for m in installed] == [
        ("big.gguf", hashlib.sha256(BIG).hexdigest())
    ]
    assert installed[0].revision == hub.repo_info("acme/big").commit
    assert target.read_bytes() == BIG
    assert not _sidecar(store, "acme/big", "big.gguf").exists()


def test_a_copied_store_is_adopted_after_a_rehash(
    hub: HubService, store: ModelStore, make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another inode (the store was copied), same bytes: hashed and matched, so adopted."""
    target = _orphan(hub, store, make_manager, monkeypatch)
    copy = target.with_name("copy")
    shutil.copyfile(target, copy)
    os.replace(copy, target)
    assert [m.path for m in store.installed()] == ["big.gguf"]


@pytest.mark.parametrize("lie", ["other-bytes", "truncated", "deleted", "unverified"])
def test_a_sidecar_that_does_not_match_is_not_trusted(
    hub: HubService,
    store: ModelStore,
    make_manager: MakeManager,
    monkeypatch: pytest.MonkeyPatch,
    lie: str,
) -> None:
    target = _orphan(hub, store, make_manager, monkeypatch)
    sidecar = _sidecar(store, "acme/big", "big.gguf")
    if lie == "other-bytes":  # same size, another file (another inode)
        target.unlink()
        target.write_bytes(bytes(reversed(BIG)))
    elif lie == "truncated":  # the same inode, cut short
        os.truncate(target, len(BIG) // 2)
    elif lie == "deleted":
        target.unlink()
    else:  # a sidecar that never recorded a verification
        meta = json.loads(sidecar.read_text())
        del meta["verified"]
        sidecar.write_text(json.dumps(meta))
    assert store.installed() == []
    assert not sidecar.exists()  # stale: dropped, the file (if any) is left alone
    if lie != "deleted":
        assert target.exists()


def test_a_stray_file_without_sidecar_is_not_listed(store: ModelStore) -> None:
    stray = store.path_for("acme/x", "dropped-in.gguf")
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"not verified")
    assert store.installed() == []
    assert stray.exists()


def test_damaged_index_is_kept_aside(
    hub: HubService, store: ModelStore, make_manager: MakeManager
) -> None:
    store.root.mkdir(parents=True)
    store.index_path.write_text('{"version": 1, "files": {"acme/x/a.gguf": {"repo"')
    commit, files = _files(hub, "acme/tiny-gguf", "README.md")
    manager = make_manager()
    manager.enqueue("acme/tiny-gguf", commit, files)
    assert manager.wait(timeout=30)
    assert [m.path for m in store.installed()] == ["README.md"]
    kept = store.index_path.with_name(store.index_path.name + ".damaged")
    assert kept.read_text().startswith('{"version": 1, "files": {"acme/x/a.gguf"')


def test_a_reused_inode_number_is_not_taken_for_the_verified_file(
    hub: HubService, store: ModelStore, make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same device, inode number, size and mtime, but another generation: the bytes are hashed
    (and here they differ), so the file is not adopted."""
    target = _orphan(hub, store, make_manager, monkeypatch)
    sidecar = _sidecar(store, "acme/big", "big.gguf")
    before = target.stat()
    with open(target, "r+b") as fh:  # other bytes in the same inode, same size
        fh.write(b"\0" * 4096)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    meta = json.loads(sidecar.read_text())
    meta["verified"]["generation"] = (meta["verified"]["generation"] or 0) + 1
    sidecar.write_text(json.dumps(meta))
    assert store.installed() == []
    assert target.exists() and not sidecar.exists()


def test_after_a_damaged_index_a_pull_verifies_instead_of_fetching(
    hub_env: HubServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """No sidecar to adopt from: the file on disk is hashed against the hub's sha256."""
    store = ModelStore(tmp_path / "state" / "models")
    assert _paitui(cli_env, *PULL).returncode == 0
    store.index_path.write_text("{not json")
    assert store.installed() == []
    fetched = _file_gets(hub_env)
    again = _paitui(cli_env, *PULL)
    assert again.returncode == 0, again.stderr
    assert "done, verified" in again.stdout
    assert _file_gets(hub_env) == fetched
    assert [m.sha256 for m in store.installed()] == [hashlib.sha256(BIG).hexdigest()]
    # Other bytes at the same size are not taken for the hub's file: fetched again.
    target = store.path_for("acme/big", "big.gguf")
    store.index_path.write_text("{not json")
    target.write_bytes(bytes(reversed(BIG)))
    assert _paitui(cli_env, *PULL).returncode == 0
    assert _file_gets(hub_env) > fetched
    assert target.read_bytes() == BIG
