"""A Hub that lies: hostile file names, another repo's id, sizes other than the bytes it sends.

The rule under attack: nothing outside the store is ever written from a Hub name, a pull never
crashes on what the Hub says, and data that cannot be the announced file is never installed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from paitui.cli.main import main
from paitui.domain.models.records import DownloadState
from paitui.services.models.hub import HubError, HubService
from paitui.services.models.store import ModelStore
from tests.models.conftest import BIG, GGUF_Q4
from tests.models.hub_server import HubRepo, HubServer, make_repo
from tests.models.test_downloads import MakeManager, _files

OK = b"fine model bytes " * 200


def _hostile_names(outside: Path) -> list[str]:
    """Names that point outside ``<store>/<org>/<repo>`` in every way we know of."""
    return [
        "../../evil.gguf",
        "../../../../../evil-up.gguf",
        str(outside / "abs-evil.gguf"),  # absolute
        "sub/../../../../evil-mid.gguf",
        "./dot.gguf",
        "a//b.gguf",
        "a\\..\\..\\evil-win.gguf",
        "C:/evil-drive.gguf",
        "esc\x1b[2J\x1b[31mred.gguf",  # a terminal escape in a name
        "nul\x00byte.gguf",
        "x" * 300 + ".gguf",  # longer than a file name may be
    ]


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_pull_skips_hostile_names_and_writes_only_in_the_store(
    hub_env: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / f"outside-{secrets.token_hex(4)}"
    names = _hostile_names(outside)
    hub_env.add(make_repo("acme/evil", {**{n: GGUF_Q4 for n in names}, "ok.gguf": OK}))
    before = _all_files(tmp_path)
    assert main(["models", "pull", "acme/evil"]) == 0
    captured = capsys.readouterr()
    store = tmp_path / "state" / "models"
    assert (store / "acme" / "evil" / "ok.gguf").read_bytes() == OK
    new = _all_files(tmp_path) - before
    assert new, "the safe file was written"
    assert all(store in p.parents for p in new), sorted(map(str, new))
    # Everything new in the store is the safe file, its index or its lock: nothing else.
    assert {p.relative_to(store).as_posix() for p in new} == {
        "acme/evil/ok.gguf",
        ".paitui-index.json",
        ".paitui-index.lock",
    }
    assert not outside.exists()
    # One warning that counts them and never echoes an escape sequence to the terminal.
    assert f"skipped {len(names)} file(s)" in captured.err and "unsafe" in captured.err
    assert "\x1b" not in captured.err + captured.out
    # The hub was never asked for a hostile name.
    asked = [r.path for r in hub_env.gets("/resolve/")]
    assert len(asked) == 1 and asked[0].endswith("/ok.gguf"), asked


def test_asking_only_for_a_hostile_name_is_a_clear_refusal(
    hub_env: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub_env.add(make_repo("acme/evil", {"../../evil.gguf": GGUF_Q4, "ok.gguf": OK}))
    assert main(["models", "pull", "acme/evil", "../../evil.gguf"]) == 1
    err = capsys.readouterr().err
    assert "unsafe names" in err and "Traceback" not in err
    assert hub_env.gets("/resolve/") == []
    assert not (tmp_path / "state" / "evil.gguf").exists()


def test_hostile_names_are_left_out_of_repo_info(hub: HubService, hub_server: HubServer) -> None:
    names = _hostile_names(Path("/nonexistent-dir"))
    hub_server.add(make_repo("acme/evil", {**{n: OK for n in names}, "ok.gguf": OK}))
    info = hub.repo_info("acme/evil")
    assert [f.path for f in info.files] == ["ok.gguf"]
    assert set(info.skipped) == set(names)


@pytest.mark.parametrize("claimed", ["other/repo", "../../etc", "acme/tiny-gguf-2"])
def test_an_answer_for_another_repo_is_refused(
    hub_env: HubServer,
    claimed: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = hub_env.repos["acme/tiny-gguf"]
    repo.answer_id = claimed
    assert main(["models", "pull", "acme/tiny-gguf"]) == 1
    err = capsys.readouterr().err
    assert "acme/tiny-gguf" in err and "refused" in err
    assert len(err.strip().splitlines()) == 1
    assert hub_env.gets("/resolve/") == []
    models = tmp_path / "state" / "models"
    assert not models.exists() or not _all_files(models)


def test_a_case_only_difference_is_the_same_repo(hub: HubService, hub_server: HubServer) -> None:
    """The hub matches names case-insensitively and answers with its own spelling."""
    hub_server.repos["acme/tiny-gguf"].answer_id = "ACME/Tiny-GGUF"
    assert hub.repo_info("acme/tiny-gguf").repo_id == "ACME/Tiny-GGUF"


def test_an_invalid_commit_is_refused(hub: HubService, hub_server: HubServer) -> None:
    hub_server.add(HubRepo("acme/badsha", commit="../../x"))
    with pytest.raises(HubError, match="no valid commit"):
        hub.repo_info("acme/badsha")


def test_more_bytes_than_announced_are_refused(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    """A hub announcing 1 MB and sending 4 MB must not fill the disk: the excess stops it."""
    hub_server.faults.lie_size["big.gguf"] = 1_000_000
    commit, files = _files(hub, "acme/big")
    assert files[0].size == 1_000_000
    manager = make_manager()
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert "more than the 1000000 bytes" in (d.error or "") and "removed" in (d.error or "")
    assert not store.path_for("acme/big", "big.gguf").exists()
    part = store.partial_for("acme/big", "big.gguf")
    assert not part.exists() and not part.with_name(part.name + ".json").exists()
    assert store.installed() == []


def test_fewer_bytes_than_announced_are_refused(
    hub: HubService, store: ModelStore, make_manager: MakeManager, hub_server: HubServer
) -> None:
    """The body ends at the real size; the resume asks past it and the hub has nothing more."""
    hub_server.faults.lie_size["big.gguf"] = len(BIG) + 5000
    commit, files = _files(hub, "acme/big")
    manager = make_manager()
    manager.enqueue("acme/big", commit, files)
    assert manager.wait(timeout=30)
    d = manager.snapshot()[0]
    assert d.state == DownloadState.FAILED
    assert f"only {len(BIG)} of the {len(BIG) + 5000} bytes" in (d.error or "")
    assert not store.path_for("acme/big", "big.gguf").exists()
    assert not store.partial_for("acme/big", "big.gguf").exists()
    assert [r.status for r in hub_server.gets("/repos/")] == [200, 416]


def test_store_paths_never_leave_the_store(tmp_path: Path) -> None:
    """Whatever a name is, every path the store derives from it stays inside the store."""
    import random

    from paitui.domain.models.records import UnsafePathError

    store = ModelStore(tmp_path / "s")
    rng = random.Random(11)
    alphabet = ["..", ".", "/", "\\", "a", "b.gguf", "\x00", "~", "C:", " ", "\n", "é"]
    tried = escaped = 0
    for _ in range(3000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        tried += 1
        try:
            paths = [store.path_for("acme/x", name), store.partial_for("acme/x", name)]
        except UnsafePathError:
            continue
        for p in paths:
            real = Path(os.path.normpath(p))
            if store.root not in real.parents:
                escaped += 1
    assert tried == 3000 and escaped == 0
