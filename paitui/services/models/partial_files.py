"""The partial-file protocol: unfinished downloads that survive a cancel, a crash or a reboot.

Data goes to ``<store>/.partial/<org>/<repo>/<file>.part`` beside ``<file>.part.json``, whose
``bytes_done`` is always a prefix of the data that is on disk and fsynced: the data is fsynced
before the metadata says so, and a later run trusts only that prefix. The file is locked while a
process writes it, so two processes never write one partial.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

from paitui.domain.models.records import Download, RepoFile, human_size
from paitui.services.models.download_errors import DownloadError, Stop
from paitui.services.models.hashing import Hashes
from paitui.services.models.store import free_space, fsync_dir, inode_generation, write_json_atomic

META_VERSION = 1


def meta_path(part: Path) -> Path:
    """The sidecar of a partial file."""
    return part.with_name(part.name + ".json")


def read_meta(part: Path) -> dict[str, Any] | None:
    """The sidecar's JSON (of this protocol version), or None."""
    try:
        meta = json.loads(meta_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("version") == META_VERSION else None


def meta_matches(meta: dict[str, Any], f: RepoFile) -> bool:
    """Partial data belongs to this file only if it is the same content (checksum and size)."""
    return (
        meta.get("sha256") == f.sha256
        and meta.get("blob_id") == f.blob_id
        and meta.get("size") == f.size
    )


def kept_bytes(part: Path, f: RepoFile) -> int:
    """How many bytes of ``f`` a partial file already holds (0 without a matching sidecar)."""
    meta = read_meta(part)
    if meta is None or not meta_matches(meta, f):
        return 0
    return min(f.size or 0, int(meta.get("bytes_done", 0)))


def remove_partial(part: Path) -> None:
    """Delete a partial file and its sidecar."""
    # Metadata last: a sidecar without data is stale, data without a sidecar is never used.
    for p in (part, meta_path(part)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def prune_partial_dirs(start: Path, root: Path) -> None:
    """Remove the empty directories from ``start`` up to (not including) ``root``."""
    d = start
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


class PartialFile:
    """One open, locked partial file and its sidecar; ``offset`` is what the sidecar vouches for."""

    def __init__(self, part: Path, fd: int, meta: dict[str, Any]) -> None:
        self.part = part
        self.meta_path = meta_path(part)
        self.fd = fd
        self.meta = meta

    @classmethod
    def open(cls, part: Path, d: Download, url: str, store_root: Path) -> PartialFile:
        """Open and lock the partial of ``d``, cut back to the prefix its sidecar vouches for."""
        f = d.file
        try:
            part.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DownloadError(f"cannot write to the store {store_root}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise DownloadError(
                    f"{d.id} is being downloaded by another paitui process"
                ) from None
            old = read_meta(part)
            on_disk = os.fstat(fd).st_size
            offset = 0
            if old is not None and meta_matches(old, f):
                # Only the prefix the metadata vouches for is trusted (it was fsynced first).
                offset = min(int(old.get("bytes_done", 0)), on_disk)
            os.ftruncate(fd, offset)
        except BaseException:
            os.close(fd)
            raise
        meta = {
            "version": META_VERSION,
            "url": url,
            "repo": d.repo_id,
            "path": f.path,
            "revision": d.revision,
            "size": f.size,
            "sha256": f.sha256,
            "blob_id": f.blob_id,
            "etag": f.sha256 or f.blob_id,
            "bytes_done": offset,
        }
        return cls(part, fd, meta)

    @property
    def offset(self) -> int:
        """The bytes the sidecar records as durable."""
        return int(self.meta["bytes_done"])

    def close(self) -> None:
        """Close (and so unlock) the file."""
        os.close(self.fd)

    def rehash(self, length: int, hashes: Hashes, chunk_size: int, stop: threading.Event) -> None:
        """Hash the kept prefix again: the verified checksum covers every byte of the file."""
        pos = 0
        while pos < length:
            if stop.is_set():
                raise Stop
            chunk = os.pread(self.fd, min(chunk_size, length - pos), pos)
            if not chunk:
                break
            hashes.update(chunk)
            pos += len(chunk)

    def restart(self) -> None:
        """Drop the data: the server sends the whole file again."""
        os.ftruncate(self.fd, 0)

    def checkpoint(self, offset: int) -> None:
        """Make ``offset`` bytes durable, then record them: metadata never runs ahead of data.

        ``meta["bytes_done"]`` changes only once the new metadata is on disk.
        """
        os.fsync(self.fd)
        write_json_atomic(self.meta_path, {**self.meta, "bytes_done": offset})
        self.meta["bytes_done"] = offset

    def write(self, chunk: bytes, offset: int) -> None:
        """Write ``chunk`` at ``offset``; on a full disk, cut back to ``offset`` and say so."""
        view = memoryview(chunk)
        pos = offset
        try:
            while view:
                n = os.pwrite(self.fd, view, pos)
                view = view[n:]
                pos += n
        except OSError as exc:
            # Keep the partial consistent: drop the torn chunk and record what is whole; if even
            # the small metadata file cannot be written, cut the data back to what it records.
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, offset)
            try:
                self.checkpoint(offset)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, self.offset)
                    os.fsync(self.fd)
                offset = self.offset
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                free, mount = free_space(self.meta_path.parent)
                raise DownloadError(
                    f"disk full on {mount} after {human_size(offset)} "
                    f"({human_size(free)} free): free some space, then pull again to continue"
                ) from None
            raise DownloadError(f"cannot write the download: {exc.strerror}") from None

    def seal(self, size: int, digest: str) -> None:
        """Fsync the verified data and record its digest and inode in the sidecar: the store
        adopts the file from it if the process dies between the rename and the index record."""
        os.fsync(self.fd)
        st = os.fstat(self.fd)
        verified = {
            "sha256": digest,
            "size": size,
            "dev": st.st_dev,
            "ino": st.st_ino,
            "mtime_ns": st.st_mtime_ns,
            "generation": inode_generation(self.fd),
        }
        write_json_atomic(self.meta_path, {**self.meta, "bytes_done": size, "verified": verified})

    def install(self, target: Path) -> None:
        """Rename the data into place (still locked: no other process can open this inode as
        its partial and truncate it)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.part, target)
        fsync_dir(target.parent)

    def forget(self) -> None:
        """Delete the sidecar once the store's index has the file."""
        with contextlib.suppress(FileNotFoundError):
            self.meta_path.unlink()
