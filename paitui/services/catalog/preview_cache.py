"""The catalog preview's file: the fingerprint of the catalog files, reading and saving it.

Best effort by design: any problem (a file that cannot be read, a damaged or foreign preview,
a full disk) means no preview, and the start waits for the catalog as it would without one.
Imports neither YAML nor the schema (see ``domain.launch.catalog_preview``).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
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
    path = folder / PREVIEW_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_PREVIEW_BYTES:
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_PREVIEW_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return preview_from_json(text, fingerprint)


def write_preview(folder: Path, preview: CatalogPreview) -> bool:
    """Save the preview whole (a temporary file renamed over the old one); False on failure."""
    text = preview_to_json(preview).encode("utf-8")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{PREVIEW_NAME}.", dir=folder)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text)
        os.replace(tmp, folder / PREVIEW_NAME)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False
    return True
