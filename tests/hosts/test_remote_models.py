"""Models on the box that runs the app: ``paitui models pull|ls --host`` over a real sshd whose
sessions run THIS checkout's paitui (a ``paitui`` wrapper on the session's PATH) with a store of
its own, fetching from the suite's Hub server. Nothing is installed anywhere: the "remote" is
this machine seen through ssh://root@gpubox (an ~/.ssh/config alias)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from paitui.domain.fleet.hosts import host_from_table
from paitui.domain.models.holders import holders, holders_cell, parse_listing
from paitui.services.models.remote import RemoteModelsError, remote_pull, remote_store
from tests.hosts.remote_box import BIG, Q4, RemoteBox


def _cli(r: RemoteBox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paitui", "--config", str(r.config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=r.env,
        check=False,
    )


def _pulls_running(repo: str) -> list[int]:
    """Remote ``paitui models pull REPO`` processes (the remote is this machine)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"pull" in argv and repo.encode() in argv and b"paitui" in argv:
                found.append(int(entry.name))
    return found


def test_pull_and_ls_on_the_box_that_runs_the_app(remote: RemoteBox) -> None:
    t0 = time.monotonic()
    out = _cli(remote, "models", "pull", "acme/tiny-gguf", "tiny.Q4_K_M.gguf", "--host", "gpubox")
    pull_s = time.monotonic() - t0
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("gpubox: acme/tiny-gguf@") for line in lines), lines
    assert any("tiny.Q4_K_M.gguf: done, verified" in line for line in lines), lines
    held = remote.store / "acme" / "tiny-gguf" / "tiny.Q4_K_M.gguf"
    assert hashlib.sha256(held.read_bytes()).digest() == hashlib.sha256(Q4).digest()
    assert not (remote.store.parent / "local-models" / "acme").exists()

    out = _cli(remote, "models", "ls", "--host", "gpubox", "--json")
    assert out.returncode == 0, out.stderr
    listing = parse_listing("gpubox", out.stdout)
    assert listing.root == str(remote.store) and listing.repo_ids == {"acme/tiny-gguf"}
    files = {f.path: f.size for r in listing.repos for f in r.files}
    assert files == {"tiny.Q4_K_M.gguf": len(Q4)}
    table = _cli(remote, "models", "ls", "--host", "gpubox")
    assert "tiny.Q4_K_M.gguf" in table.stdout and f"in {remote.store}" in table.stdout

    # Which box holds what, for the Models screen.
    held_by = holders("local", ["acme/local-only"], {"gpubox": listing.repo_ids, "gpu2": None})
    assert holders_cell("acme/tiny-gguf", held_by) == "gpubox"
    assert holders_cell("acme/local-only", held_by, unknown=["gpu2"]) == "local, gpu2?"

    bare = _cli(remote, "models", "ls", "--host", "bare")
    assert bare.returncode == 1
    assert "paitui is not installed on bare" in bare.stderr, bare.stderr
    assert '[hosts.bare] paitui = "/path/to/paitui"' in bare.stderr
    bare = _cli(remote, "models", "pull", "acme/tiny-gguf", "--host", "bare")
    assert bare.returncode == 1 and "not installed on bare" in bare.stderr, bare.stderr
    local = _cli(remote, "models", "ls", "--host", "local")
    assert local.returncode == 1 and "reached only over ssh://" in local.stderr, local.stderr
    nope = _cli(remote, "models", "pull", "acme/x", "--host", "nope")
    assert nope.returncode == 1 and "no host 'nope'" in nope.stderr
    print(f"\nmodels pull --host (1.5 MB, ssh + remote paitui start): {pull_s:.2f} s")


def test_a_cancelled_remote_pull_ends_there_and_resumes(remote: RemoteBox) -> None:
    spec = host_from_table("gpubox", {"endpoint": remote.box.alias("gpubox2")})
    remote.hub.faults.throttle = 1_000_000  # 6 s for the whole file: time to cancel it
    cancel = threading.Event()
    seen: list[str] = []
    running: list[int] = []

    def on_line(line: str) -> None:
        seen.append(line)
        if "big.gguf:" in line and "%" in line and not cancel.is_set():
            running.extend(_pulls_running("acme/big"))
            cancel.set()

    t0 = time.monotonic()
    result = remote_pull(spec, "acme/big", ["big.gguf"], on_line, cancel=cancel)
    assert result.code is None and result.reason == "cancelled", (result, seen)
    assert running, "the remote pull was not seen running"
    # The session's hang-up ends the remote pull (and its downloads) within seconds.
    deadline = time.monotonic() + 15
    while _pulls_running("acme/big"):
        assert time.monotonic() < deadline, "the remote pull outlived its session"
        time.sleep(0.1)
    ended_s = time.monotonic() - t0
    assert not (remote.store / "acme" / "big" / "big.gguf").exists()

    remote.hub.faults.throttle = 0
    again: list[str] = []
    result = remote_pull(spec, "acme/big", ["big.gguf"], again.append)
    assert result.code == 0, again
    done = remote.store / "acme" / "big" / "big.gguf"
    assert hashlib.sha256(done.read_bytes()).digest() == hashlib.sha256(BIG).digest()
    assert remote_store(spec).repo_ids == {"acme/big"}
    ranges = [r.headers.get("range", "") for r in remote.hub.gets("big.gguf")]
    assert any(r.startswith("bytes=") and not r.startswith("bytes=0-") for r in ranges), (
        ranges,
        [(x.path, x.headers) for x in remote.hub.gets()][-6:],
    )

    # A box that is gone: a clear message, bounded by the timeout.
    remote.box.kill()
    with pytest.raises(RemoteModelsError, match="cannot reach gpubox over SSH"):
        remote_store(spec, timeout=5)
    print(f"\ncancel -> remote pull gone: {ended_s:.2f} s")


def test_ctrl_c_on_the_cli_stops_the_pull_there(remote: RemoteBox) -> None:
    import signal

    remote.hub.faults.throttle = 1_000_000
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "paitui", "--config", str(remote.config)),
            *("models", "pull", "acme/big", "big.gguf", "--host", "gpubox"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=remote.env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:  # ends when the CLI ends: no wait without an end
            lines.append(line)
            if line.startswith("gpubox: big.gguf:") and "%" in line:
                break
        assert _pulls_running("acme/big"), lines
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "paused on gpubox" in err, err
    deadline = time.monotonic() + 15
    while _pulls_running("acme/big"):
        assert time.monotonic() < deadline, "Ctrl-C here left the pull running there"
        time.sleep(0.1)


def test_the_ssh_binary_path_too(
    remote: RemoteBox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ssh_client = "openssh"``: the real ssh binary (pointed at the test's config by a
    wrapper: it reads the passwd home's ~/.ssh, not $HOME) lists, pulls and is cancelled."""
    wrapper_dir = tmp_path / "client-bin"
    wrapper_dir.mkdir()
    ssh_dir = remote.box.home / ".ssh"
    (wrapper_dir / "ssh").write_text(
        f"#!/bin/sh\nexec /usr/bin/ssh -F {ssh_dir / 'config'} "
        f'-o UserKnownHostsFile={ssh_dir / "known_hosts"} "$@"\n'
    )
    (wrapper_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper_dir}:{os.environ['PATH']}")
    spec = host_from_table("gpubox", {"endpoint": remote.endpoint, "ssh_client": "openssh"})
    assert remote_store(spec).repo_ids == set()
    remote.hub.faults.throttle = 1_000_000
    cancel = threading.Event()
    running: list[int] = []

    def on_line(line: str) -> None:
        if "big.gguf:" in line and "%" in line and not cancel.is_set():
            running.extend(_pulls_running("acme/big"))
            cancel.set()

    result = remote_pull(spec, "acme/big", ["big.gguf"], on_line, cancel=cancel)
    assert result.reason == "cancelled" and running
    deadline = time.monotonic() + 15
    while _pulls_running("acme/big"):
        assert time.monotonic() < deadline, "the remote pull outlived the ssh binary"
        time.sleep(0.1)
    remote.hub.faults.throttle = 0
    result = remote_pull(spec, "acme/big", ["big.gguf"], lambda line: None)
    assert result.code == 0 and remote_store(spec).repo_ids == {"acme/big"}
    bare = host_from_table(
        "bare", {"endpoint": remote.endpoint, "ssh_client": "openssh", "paitui": "no-paitui"}
    )
    with pytest.raises(RemoteModelsError, match="not installed on bare"):
        remote_pull(bare, "acme/big", [], lambda line: None)
