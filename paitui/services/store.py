"""The one shared models store: ``<models_dir>/<org>/<repo>/<file>`` and its index.

The index (``<models_dir>/.paitui-index.json``) lists each verified file with its size, sha256,
source repo, revision and install date. It is rewritten atomically (temp file, fsync, rename) under
an ``flock`` so the UI and a ``paitui models pull`` running at the same time never lose an entry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paitui.domain.models import (
    INDEX_NAME,
    PARTIAL_DIR,
    InstalledModel,
    check_repo_id,
    file_formats,
    partial_path,
    store_path,
)

_INDEX_VERSION = 1


def fsync_dir(path: Path) -> None:
    """Make a rename or create in ``path`` durable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` so readers see the old or the new content, never a torn file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def free_space(path: Path) -> tuple[int, str]:
    """Free bytes on the file system holding ``path`` (or its nearest parent), and its mount."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    mount = probe
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    return free, str(mount)


class ModelStore:
    """Installed model files and their index."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    @property
    def index_path(self) -> Path:
        """The index file."""
        return self.root / INDEX_NAME

    @property
    def partial_root(self) -> Path:
        """Where unfinished downloads are kept."""
        return self.root / PARTIAL_DIR

    def path_for(self, repo_id: str, name: str) -> Path:
        """The final path of a file (validated: never outside the store)."""
        return store_path(self.root, repo_id, name)

    def partial_for(self, repo_id: str, name: str) -> Path:
        """The partial data path of a file."""
        return partial_path(self.root, repo_id, name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".paitui-index.lock", "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            doc = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A damaged index is rebuilt from what is added next; files stay on disk.
            return {}
        files = doc.get("files") if isinstance(doc, dict) else None
        return files if isinstance(files, dict) else {}

    def _write(self, files: dict[str, dict[str, Any]]) -> None:
        write_json_atomic(self.index_path, {"version": _INDEX_VERSION, "files": files})

    def record(
        self, repo_id: str, name: str, *, size: int, sha256: str, revision: str
    ) -> InstalledModel:
        """Add (or replace) one verified file in the index."""
        target = self.path_for(repo_id, name)
        entry = {
            "repo": repo_id,
            "path": name,
            "size": size,
            "sha256": sha256,
            "revision": revision,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        with self._locked():
            files = self._read()
            files[f"{repo_id}/{name}"] = entry
            self._write(files)
        return self._entry(entry, target)

    def _entry(self, entry: dict[str, Any], target: Path) -> InstalledModel:
        return InstalledModel(
            repo_id=str(entry["repo"]),
            path=str(entry["path"]),
            store_path=str(target),
            size=int(entry["size"]),
            sha256=str(entry.get("sha256") or ""),
            revision=str(entry.get("revision") or ""),
            date=str(entry.get("date") or ""),
            formats=file_formats(str(entry["path"])),
        )

    def installed(self) -> list[InstalledModel]:
        """Every indexed file that is still on disk, sorted by repo and path."""
        out: list[InstalledModel] = []
        for entry in self._read().values():
            try:
                target = self.path_for(str(entry["repo"]), str(entry["path"]))
                item = self._entry(entry, target)
            except (KeyError, ValueError, TypeError):
                continue
            if target.is_file():
                out.append(item)
        return sorted(out, key=lambda m: (m.repo_id, m.path))

    def find(self, repo_id: str, name: str) -> InstalledModel | None:
        """The index entry of one file, if installed."""
        return next(
            (m for m in self.installed() if m.repo_id == repo_id and m.path == name), None
        )

    def total_size(self) -> int:
        """Bytes used by all installed files."""
        return sum(m.size for m in self.installed())

    def remove(self, repo_id: str, name: str | None = None) -> list[InstalledModel]:
        """Delete one file (or every file of a repo) from disk and index; returns what went."""
        check_repo_id(repo_id)
        with self._locked():
            files = self._read()
            gone: list[InstalledModel] = []
            for key, entry in list(files.items()):
                if entry.get("repo") != repo_id or (name is not None and entry.get("path") != name):
                    continue
                target = self.path_for(repo_id, str(entry["path"]))
                gone.append(self._entry(entry, target))
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                del files[key]
                self._prune_dirs(target.parent)
            self._write(files)
        return gone

    def _prune_dirs(self, start: Path) -> None:
        """Remove empty directories up to (not including) the store root."""
        d = start
        while d != self.root and self.root in d.parents:
            try:
                d.rmdir()
            except OSError:
                return
            d = d.parent
