"""Writing a small text file whole: a temporary name in the same folder, renamed over the old.

Readers see the old content or the new, never a torn file (Quadlet units, the catalog preview).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(directory: Path, name: str, text: str) -> Path:
    """``text`` as ``directory/name``, made whole under a temp name first (never half-written)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return directory / name
