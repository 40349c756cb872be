"""The catalog preview: what the first draw shows before the catalog is read.

It must draw exactly what the catalog draws (no tile changes when the catalog arrives), be used
only for the very files it was made from, and be refused whole when its file is damaged,
foreign or hostile; saving it is atomic and best effort.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from paitui.domain.fleet.status import AppState, AppStatus
from paitui.domain.launch.catalog_preview import (
    FORMAT,
    MAX_APPS,
    CatalogPreview,
    PreviewApp,
    preview_from_json,
    preview_of,
    preview_to_json,
)
from paitui.services.catalog.files import MAX_BYTES, bundled_catalog_path
from paitui.services.catalog.loader import load_catalog
from paitui.services.catalog.preview_cache import (
    PREVIEW_NAME,
    catalog_fingerprint,
    read_preview,
    write_preview,
)
from paitui.services.registry import Services
from paitui.settings import data_dir, load_settings
from paitui.ui.screens.home import preview_tile_data, tile_data

FP = "f" * 40


def _status(app_id: str, state: AppState) -> AppStatus:
    return AppStatus(app_id=app_id, state=state, since=0.0, container_id="c" * 12)


def test_the_preview_draws_what_the_catalog_draws_before_the_hardware_is_known() -> None:
    catalog = load_catalog()
    statuses = {"ollama": _status("ollama", AppState.READY)}
    preview = preview_of(catalog, FP)
    assert len(preview.apps) == len(catalog.apps)
    assert preview_tile_data(preview, statuses) == tile_data(catalog, None, statuses)
    assert preview.name_of("ollama") == catalog.apps["ollama"].name
    assert preview.name_of("not-an-app") is None


def test_a_saved_preview_reads_back_the_same() -> None:
    preview = preview_of(load_catalog(), FP)
    assert preview_from_json(preview_to_json(preview), FP) == preview


def _text(apps: object, fmt: object = FORMAT, fingerprint: object = FP) -> str:
    return json.dumps({"format": fmt, "fingerprint": fingerprint, "apps": apps})


@pytest.mark.parametrize(
    "text",
    [
        _text([["a", "A", "llm", "cpu"]], fingerprint="0" * 40),  # made from other files
        _text([["a", "A", "llm", "cpu"]], fmt=FORMAT + 1),  # another paitui's format
        "{not json",
        "[" * 100_000 + "]" * 100_000,  # nesting past the parser's recursion limit
        json.dumps([1, 2]),
        _text({"a": 1}),
        _text([["a", "A", "llm"]]),  # a field missing
        _text([["a", "A", "llm", 7]]),  # a variant that is not text
        _text([["a", "", "llm", "cpu"]]),  # an empty name
        _text([["a", "A\x1b[2J", "llm", "cpu"]]),  # a terminal escape in a name
        _text([["a", "A" * 201, "llm", "cpu"]]),  # past MAX_TEXT
        _text([["a", "A", "llm", None], ["a", "B", "llm", None]]),  # one id twice
        _text([["a" + str(i), "A", "llm", None] for i in range(MAX_APPS + 1)]),
    ],
    ids=lambda t: t[:40],
)
def test_a_damaged_or_foreign_preview_is_refused_whole(text: str) -> None:
    assert preview_from_json(text, FP) is None


def test_an_app_without_a_default_variant_is_a_blocked_tile() -> None:
    preview = CatalogPreview(FP, (PreviewApp("a", "A", "llm", None),))
    fit, blocked = preview_tile_data(preview, {})
    assert fit == [] and [t.app_id for t in blocked] == ["a"]


def test_the_fingerprint_follows_every_byte_and_name_of_the_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text("apps: []\n")
    b.write_text("apps: []\n")
    first = catalog_fingerprint([a, b])
    assert first is not None and first == catalog_fingerprint([a, b])
    assert catalog_fingerprint([b, a]) != first  # the load order decides which app wins
    assert catalog_fingerprint([a]) != first
    b.write_text("apps: [] \n")
    assert catalog_fingerprint([a, b]) != first


def test_no_fingerprint_for_files_the_catalog_reader_refuses(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    for path in (fifo, big, tmp_path / "missing.yml"):
        assert catalog_fingerprint([bundled_catalog_path(), path]) is None, path


def test_a_preview_file_that_is_not_a_regular_file_is_never_read_from(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / PREVIEW_NAME)  # opening a FIFO to read would block for ever
    done = threading.Event()
    result: list[CatalogPreview | None] = []

    def read() -> None:
        result.append(read_preview(tmp_path, FP))
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(10), "reading the preview blocked on a FIFO"
    assert result == [None]
    (tmp_path / PREVIEW_NAME).unlink()
    (tmp_path / PREVIEW_NAME).symlink_to("/dev/zero")
    assert read_preview(tmp_path, FP) is None
    (tmp_path / PREVIEW_NAME).unlink()
    (tmp_path / PREVIEW_NAME).write_bytes(b"\xff\xfe not utf-8")
    assert read_preview(tmp_path, FP) is None


def test_saving_is_whole_or_nothing_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    preview = preview_of(load_catalog(), FP)
    assert write_preview(tmp_path / "state", preview)
    assert read_preview(tmp_path / "state", FP) == preview
    assert os.listdir(tmp_path / "state") == [PREVIEW_NAME]
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    assert not write_preview(blocked, preview)


def test_the_services_save_a_preview_only_for_files_that_did_not_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "extra.yml"
    extra.write_text("apps: []\n")
    services = Services(load_settings(), [extra])
    fingerprint = services.catalog_fingerprint()
    assert fingerprint is not None
    catalog = services.load_catalog()
    extra.write_text("apps: []  # edited while the catalog was read\n")
    services.save_catalog_preview(catalog, fingerprint)
    assert not (data_dir() / PREVIEW_NAME).exists()

    fingerprint = services.catalog_fingerprint()
    assert fingerprint is not None
    services.save_catalog_preview(services.load_catalog(), fingerprint)
    saved = services.catalog_preview(fingerprint)
    assert saved is not None and saved.name_of("ollama") == "Ollama"
    # The same preview again is not written again.
    before = (data_dir() / PREVIEW_NAME).stat().st_mtime_ns
    monkeypatch.setattr(
        "paitui.services.catalog.preview_cache.write_preview",
        lambda *_: pytest.fail("the same preview was written again"),
    )
    services.save_catalog_preview(services.load_catalog(), fingerprint)
    assert (data_dir() / PREVIEW_NAME).stat().st_mtime_ns == before
