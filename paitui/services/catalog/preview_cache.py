"""The catalog preview's file: the fingerprint of the catalog files, reading and saving it.

Best effort by design: any problem (a file that cannot be read, a damaged or foreign preview,
a full disk) means no preview, and the start waits for the catalog as it would without one.
Imports neither YAML nor the schema (see ``domain.launch.catalog_preview``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from paitui import __version__
from paitui.domain.launch.catalog_preview import (
    FORMAT,
    CatalogPreview,
    preview_from_json,
    preview_to_json,
)
from paitui.services.catalog.files import ReadProblem, read_bytes
from paitui.services.text_files import write_atomically

PREVIEW_NAME = "catalog-preview.json"
#: A preview of MAX_APPS apps is well under this.
MAX_PREVIEW_BYTES = 2 * 1024 * 1024


def catalog_fingerprint(paths: Sequence[Path]) -> str | None:
    """A digest of the catalog files (names and bytes, in load order) and of this paitui's
    version; None when one cannot be read (the catalog's reading then says why)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"paitui {__version__} catalog preview {FORMAT}\0".encode())
    for path in paths:
        try:
            data = read_bytes(path)
        except ReadProblem:
            return None
        name = os.fsencode(path)
        digest.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def read_preview(folder: Path, fingerprint: str) -> CatalogPreview | None:
    """The saved preview if it was made from the files with this fingerprint."""
    try:
        data = read_bytes(folder / PREVIEW_NAME, MAX_PREVIEW_BYTES)
    except ReadProblem:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return preview_from_json(text, fingerprint)


def write_preview(folder: Path, preview: CatalogPreview) -> bool:
    """Save the preview whole (see ``write_atomically``); False on failure."""
    try:
        write_atomically(folder, PREVIEW_NAME, preview_to_json(preview))
    except OSError:
        return False
    return True
