"""Which files make up the catalog, and reading one of them with bounded work (no YAML here).

Kept apart from the YAML reader and the schema so that the start-up preview of the catalog
(``catalog_preview``) can fingerprint the files without loading either.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from paitui.resources import bundled
from paitui.settings import config_dir

#: 512 KiB: the bundled catalog of 17 apps is 31 KiB, so this is room for ~250 apps in one file
#: (catalog.d takes any number of files). Scanning costs ~0.5 us a byte, nodes cost more: see
#: MAX_NODES.
MAX_BYTES = 512 * 1024


class ReadProblem(Exception):
    """A file that cannot be read as a catalog, with where (1-based) when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_stat(st: os.stat_result, limit: int = MAX_BYTES) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise ReadProblem(
            f"{_kind(st.st_mode)}, not a regular file: give a plain .yml file "
            "(paitui never reads FIFOs, devices or directories as a catalog)"
        )
    if st.st_size > limit:
        raise ReadProblem(
            f"the file is {st.st_size} bytes, over the {limit} byte limit for one catalog "
            "file: split it into several files in catalog.d"
        )


def read_bytes(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The file's bytes, if it is a regular file of at most ``limit`` bytes (``ReadProblem``
    otherwise; a FIFO or a device is never opened to read)."""
    try:
        # stat first so a FIFO or device is never even opened; fstat again on the open file
        # in case the path was swapped in between.
        _check_stat(os.stat(path), limit)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ReadProblem(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        _check_stat(os.fstat(fd), limit)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ReadProblem(f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise ReadProblem(f"the file grew past the {limit} byte limit while it was read")
    return b"".join(chunks)


def bundled_catalog_path() -> Path:
    """The catalog that ships with paitui."""
    return bundled("catalog.yml")


def user_catalog_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """``*.yml`` and ``*.yaml`` entries of the config dir's ``catalog.d/``, in name order.

    Hidden names (editor lock files such as ``.#apps.yml``) are skipped. Entries that are not
    regular files are listed too, so that loading them reports why they are refused.
    OSError when the folder cannot be listed.
    """
    folder = config_dir(env) / "catalog.d"
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.suffix in {".yml", ".yaml"} and not p.name.startswith(".")
    )


def catalog_paths(
    extra: Sequence[Path] = (),
    *,
    include_bundled: bool = True,
    include_user: bool = True,
    env: Mapping[str, str] | None = None,
) -> tuple[list[Path], OSError | None]:
    """The catalog files in load order (a later app replaces an earlier one with its id):
    bundled, ``catalog.d/*.yml``, ``PAITUI_CATALOG`` (':'-separated), then ``extra``; and the
    error that kept ``catalog.d`` from being listed, if one did."""
    env = os.environ if env is None else env
    paths: list[Path] = []
    listing_error: OSError | None = None
    if include_bundled:
        paths.append(bundled_catalog_path())
    if include_user:
        try:
            paths.extend(user_catalog_paths(env))
        except OSError as exc:
            listing_error = exc
        paths.extend(Path(p) for p in env.get("PAITUI_CATALOG", "").split(os.pathsep) if p)
    paths.extend(extra)
    return paths, listing_error
