"""The user's HF cache, as huggingface_hub itself writes it (downloads from the local Hub server).

huggingface_hub is the oracle: its downloads build the caches, its ``scan_cache_dir`` and
``local_files_only`` lookups say what a valid cache holds, and its ``constants`` say where the
cache is for a given environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError

from paitui.services.models.hf_cache import hub_cache_dir, repo_folder_name, scan_hub_cache
from tests.helpers import wait_until
from tests.models.hub_server import HubServer


def _tree(root: Path) -> list[tuple[str, int, int, str]]:
    """Every entry under ``root`` with size, mtime and link target (a scan must change none)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            link = os.readlink(p) if os.path.islink(p) else ""
            out.append((os.path.relpath(p, root), st.st_size, st.st_mtime_ns, link))
    return sorted(out)


def test_scan_lists_what_huggingface_hub_downloaded(hub_env: HubServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = hub_env.url
    snap = snapshot_download("acme/tiny-sd", cache_dir=cache, endpoint=url)
    one = hf_hub_download("acme/tiny-gguf", "tiny.Q4_K_M.gguf", cache_dir=cache, endpoint=url)
    before = _tree(cache)
    scan = scan_hub_cache(cache)
    assert _tree(cache) == before  # read-only
    assert [r.repo_id for r in scan.repos] == ["acme/tiny-gguf", "acme/tiny-sd"]
    assert scan.problems == ()
    for repo in scan.repos:
        served = hub_env.repos[repo.repo_id]
        rev = repo.revision("main")
        assert rev is not None and rev.commit == served.commit and rev.refs == ("main",)
        assert repo.revision(served.commit) is rev
        assert repo.complete
        for f in rev.files:
            assert f.linked
            assert f.size == served.files[f.path].size
            assert f.blob_path.parent == repo.path / "blobs"
            assert f.blob_path.read_bytes() == served.files[f.path].data
    sd = scan.repo("acme/tiny-sd")
    assert sd is not None
    assert {f.path for f in sd.revisions[0].files} == set(hub_env.repos["acme/tiny-sd"].files)
    assert Path(snap) == sd.path / "snapshots" / sd.revisions[0].commit
    gg = scan.repo("acme/tiny-gguf")
    assert gg is not None
    assert [str(f.snapshot_path) for f in gg.revisions[0].files] == [one]
    # huggingface_hub's own scanner agrees on repos, revisions, files and sizes.
    theirs = {
        r.repo_id: {
            rev.commit_hash: {(f.file_name, f.size_on_disk) for f in rev.files}
            for rev in r.revisions
        }
        for r in scan_cache_dir(cache).repos
    }
    ours = {
        r.repo_id: {
            rev.commit: {(f.path.rsplit("/", 1)[-1], f.size) for f in rev.files}
            for rev in r.revisions
        }
        for r in scan.repos
    }
    assert ours == theirs


def test_no_symlink_cache_from_huggingface_hub(
    hub_env: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_SYMLINKS", True)
    cache = tmp_path / "cache"
    path = hf_hub_download(
        "acme/tiny-gguf", "tiny.Q8_0.gguf", cache_dir=cache, endpoint=hub_env.url
    )
    assert not os.path.islink(path)
    (repo,) = scan_hub_cache(cache).repos
    (f,) = repo.revisions[0].files
    assert (f.path, f.linked, str(f.blob_path)) == ("tiny.Q8_0.gguf", False, path)
    assert f.size == hub_env.repos["acme/tiny-gguf"].files["tiny.Q8_0.gguf"].size


def _plain_cache(cache: Path, repo_id: str, commit: str, files: dict[str, bytes], ref: str) -> Path:
    """The layout paitui's store could use: refs/main + plain files in snapshots, no blobs."""
    repo = cache / repo_folder_name(repo_id)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(ref)
    for name, data in files.items():
        target = repo / "snapshots" / commit / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return repo


def test_a_hand_written_plain_cache_is_valid_for_huggingface_hub(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    commit = "a" * 40
    _plain_cache(cache, "org/plain", commit, {"m.gguf": b"x" * 10, "sub/c.json": b"{}"}, commit)
    # huggingface_hub finds it offline: the layout the coordinator could adopt for the store.
    found = hf_hub_download("org/plain", "sub/c.json", cache_dir=cache, local_files_only=True)
    (repo,) = scan_hub_cache(cache).repos
    rev = repo.revision("main")
    assert rev is not None and repo.complete
    assert [(f.path, f.size, f.linked) for f in rev.files] == [
        ("m.gguf", 10, False),
        ("sub/c.json", 2, False),
    ]
    assert str(rev.files[1].snapshot_path) == found
    # A ref with a trailing newline: huggingface_hub misses it, and the scan says so.
    other = "b" * 40
    _plain_cache(cache, "org/newline", other, {"m.gguf": b"y"}, other + "\n")
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download("org/newline", "m.gguf", cache_dir=cache, local_files_only=True)
    bad = scan_hub_cache(cache).repo("org/newline")
    assert bad is not None and any("blanks around the commit" in p for p in bad.problems)


_INTERRUPTED = r"""
import sys
from huggingface_hub import constants, hf_hub_download
constants.DOWNLOAD_CHUNK_SIZE = 65536  # write as it comes (the default is 10 MB per write)
hf_hub_download("acme/big", "big.gguf", cache_dir=sys.argv[1], endpoint=sys.argv[2])
"""


def test_interrupted_download_leaves_an_incomplete_blob_that_is_not_listed(
    hub_env: HubServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    # The server stalls after 300 kB; the downloading process is then killed, as a crash would.
    hub_env.faults.stall_after["big.gguf"] = (300_000, 1)
    proc = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED, str(cache), hub_env.url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    blobs = cache / repo_folder_name("acme/big") / "blobs"
    try:

        def partial() -> bool:
            found = list(blobs.glob("*.incomplete")) if blobs.is_dir() else []
            return bool(found) and found[0].stat().st_size >= 131_072

        wait_until(partial, timeout=30, what="a partial blob")
    finally:
        proc.kill()
        proc.wait(timeout=30)
        hub_env.faults.release.set()
    (repo,) = scan_hub_cache(cache).repos
    assert repo.repo_id == "acme/big"
    assert repo.incomplete == 1 and repo.incomplete_bytes >= 131_072
    assert not repo.complete
    assert all(not rev.files for rev in repo.revisions)


def test_links_out_of_the_cache_and_odd_entries_are_left_out(
    hub_env: HubServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    snapshot_download("acme/tiny-sd", cache_dir=cache, endpoint=hub_env.url)
    repo_dir = cache / repo_folder_name("acme/tiny-sd")
    (snap,) = (repo_dir / "snapshots").iterdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (snap / "escape.safetensors").symlink_to(secret)
    (snap / "dotdot.safetensors").symlink_to("../../../../secret.txt")
    (snap / "broken.safetensors").symlink_to("../../blobs/nothing-here")
    os.mkfifo(snap / "pipe.gguf")
    (snap / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    (repo_dir / "refs" / "garbage").write_bytes(b"\xff" * 10)
    (repo_dir / "refs" / "stale").write_text("c" * 40)
    (repo_dir / "snapshots" / "not-a-commit").mkdir()
    (cache / "models--a--b--c").mkdir()
    (cache / "datasets--org--data").mkdir()
    (cache / "models--org--afile").write_text("")
    before = _tree(cache)
    scan = scan_hub_cache(cache)
    assert _tree(cache) == before
    repo = scan.repo("acme/tiny-sd")
    assert repo is not None and not repo.complete
    listed = {f.path for rev in repo.revisions for f in rev.files}
    assert listed == set(hub_env.repos["acme/tiny-sd"].files)
    problems = "\n".join(repo.problems)
    for expected in (
        "escape.safetensors: links outside the cache",
        "dotdot.safetensors: links outside the cache",
        "broken.safetensors: broken link",
        "pipe.gguf: not a regular file",
        "refs/garbage: unreadable",
        "linked-dir: links outside the cache",
        "refs/stale points at cccccccccccc, which is not cached",
        "snapshots/not-a-commit: not a commit hash",
    ):
        assert expected in problems, problems
    assert not any(p.startswith("linked-dir") for p in listed)  # a dir link is never walked
    assert [r.repo_id for r in scan.repos] == ["acme/tiny-sd"]
    assert sorted(scan.problems) == [
        "models--a--b--c: not a model repo folder",
        "models--org--afile: not a model repo folder",
    ]


def test_missing_or_unreadable_cache(tmp_path: Path) -> None:
    assert scan_hub_cache(tmp_path / "nope").repos == ()
    (tmp_path / "file").write_text("")
    scan = scan_hub_cache(tmp_path / "file")
    assert scan.repos == () and scan.problems and "cannot read" in scan.problems[0]


_ORACLE = r"""
import importlib, json, os, sys
import huggingface_hub.constants as c
out = []
for env in json.loads(sys.argv[1]):
    for k in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "FOO"):
        os.environ.pop(k, None)
    os.environ.update(env)
    out.append(importlib.reload(c).HF_HUB_CACHE)
print(json.dumps(out))
"""


def test_cache_location_follows_huggingface_hub(tmp_path: Path) -> None:
    home = tmp_path / "home"
    combos: list[dict[str, str]] = [
        {},
        {"XDG_CACHE_HOME": str(tmp_path / "xdg")},
        {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HF_HOME": str(tmp_path / "hfhome")},
        {"HF_HOME": str(tmp_path / "hfhome"), "HUGGINGFACE_HUB_CACHE": str(tmp_path / "legacy")},
        {
            "HF_HOME": str(tmp_path / "hfhome"),
            "HUGGINGFACE_HUB_CACHE": str(tmp_path / "legacy"),
            "HF_HUB_CACHE": str(tmp_path / "new"),
        },
        {"HF_HOME": "~/hf"},
        {"FOO": str(tmp_path / "foo"), "HF_HUB_CACHE": "$FOO/x"},
        {"FOO": str(tmp_path / "foo"), "HF_HOME": "${FOO}/h"},
    ]
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-c", _ORACLE, json.dumps(combos)],
        env={**base, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    theirs = json.loads(proc.stdout)
    assert theirs[0] == str(home / ".cache" / "huggingface" / "hub")
    ours = [str(hub_cache_dir({**base, **env})) for env in combos]
    assert ours == theirs
    assert len(set(theirs)) == len(combos)  # every combo lands somewhere different


def test_empty_variables_count_as_unset(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "HF_HUB_CACHE": "", "HF_HOME": "", "XDG_CACHE_HOME": ""}
    assert hub_cache_dir(env) == tmp_path / ".cache" / "huggingface" / "hub"
