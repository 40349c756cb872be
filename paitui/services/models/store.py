"""The one shared models store: ``<models_dir>/<org>/<repo>/<file>`` and its index.

The index (``<models_dir>/.paitui-index.json``) lists each verified file with its size, sha256,
source repo, revision and install date. It is rewritten atomically (temp file, fsync, rename) under
an ``flock`` so the UI and a ``paitui models pull`` running at the same time never lose an entry.

Crash safety between installing a file and recording it: before a download renames its verified
data into place, it writes a sidecar (its partial metadata, ``.partial/.../<file>.part.json``)
holding the verified sha256, the size and the file's device, inode, inode generation and mtime,
fsynced; the sidecar is deleted only after the index entry is written. The store adopts a sidecar
whose partial data is gone: when the file at the final path is that very inode (a rename keeps
all of these; the generation, or the mtime where the file system has none, tells a reused inode
number apart) with that size, it is the file that was verified, so it is recorded without
reading it again; when only the size
matches (the store was copied elsewhere), the file is hashed and must match the sidecar's
sha256. The store trusts nothing else: a file without such a sidecar is never listed as
verified. A damaged index is kept aside (``.paitui-index.json.damaged``), never overwritten.

Each entry also records the file's type (``model_kinds``), decided when it is recorded from its
own header and, when a pull told the store about the repo (``remember_repo``), the Hub's facts;
and the user's override (``user_kind``), which survives a new download of the file. Overrides for
files of the user's HF cache (never written by paitui) are kept in the index too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paitui.domain.models.kinds import ModelKind, RepoFacts, classify
from paitui.domain.models.records import (
    INDEX_NAME,
    PARTIAL_DIR,
    InstalledModel,
    UnsafePathError,
    check_repo_id,
    file_formats,
    partial_path,
    store_path,
)

_INDEX_VERSION = 1
_KIND_VALUES = frozenset(k.value for k in ModelKind)
#: How a download's metadata file is named beside its partial data (``<file>.part.json``).
SIDECAR_SUFFIX = ".part.json"


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


def write_json_atomic(path: Path, data: object) -> None:
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


_FS_IOC_GETVERSION = 0x80087601  # _IOR('v', 1, long): the inode's generation number


def inode_generation(fd: int) -> int | None:
    """The generation of the inode open as ``fd`` (changes when an inode number is reused);
    None where the file system does not keep one (tmpfs)."""
    try:
        buf = fcntl.ioctl(fd, _FS_IOC_GETVERSION, b"\0" * 8)
    except OSError:
        return None
    return int.from_bytes(buf[:4], sys.byteorder)


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
        #: Hub facts of repos being pulled in this process, for the kind at ``record``.
        self._repo_facts: dict[str, RepoFacts] = {}

    def remember_repo(self, repo_id: str, facts: RepoFacts) -> None:
        """Use these Hub facts for the kind of files of ``repo_id`` recorded from now on."""
        self._repo_facts[repo_id] = facts

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

    def _read_doc(self) -> dict[str, Any] | None:
        """The index document; None when absent, ``{}`` when damaged."""
        try:
            doc = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def _read(self, *, locked: bool = False) -> dict[str, dict[str, Any]]:
        doc = self._read_doc()
        if doc is None:
            return {}
        files = doc.get("files")
        if not isinstance(files, dict):
            # Damaged: start a new index, but (under the lock, before it is rewritten) keep the
            # old one aside for the user; files stay on disk either way.
            if locked:
                with contextlib.suppress(OSError):
                    os.replace(self.index_path, self.index_path.with_name(INDEX_NAME + ".damaged"))
            return {}
        return files

    def _write(
        self, files: dict[str, dict[str, Any]], cache_kinds: dict[str, str] | None = None
    ) -> None:
        if cache_kinds is None:
            cache_kinds = self._cache_kinds()
        doc: dict[str, Any] = {"version": _INDEX_VERSION, "files": files}
        if cache_kinds:
            doc["hf_cache_kinds"] = cache_kinds
        write_json_atomic(self.index_path, doc)

    def _cache_kinds(self) -> dict[str, str]:
        doc = self._read_doc() or {}
        kinds = doc.get("hf_cache_kinds")
        if not isinstance(kinds, dict):
            return {}
        return {str(k): str(v) for k, v in kinds.items() if str(v) in _KIND_VALUES}

    # --- adopting files a crash left unrecorded ---------------------------------------------

    def _orphan_sidecars(self) -> list[Path]:
        """Download sidecars whose partial data is gone (renamed into place, or stale)."""
        root = self.partial_root
        if not root.is_dir():
            return []
        out: list[Path] = []
        for meta in root.rglob("*" + SIDECAR_SUFFIX):
            part = meta.with_name(meta.name[: -len(".json")])
            if not part.exists():
                out.append(meta)
        return sorted(out)

    def adopt(self) -> list[InstalledModel]:
        """Record verified files a crash left installed but not in the index; returns them."""
        if not self._orphan_sidecars():
            return []
        with self._locked():
            files = self._read(locked=True)
            adopted = self._adopt_into(files)
            if adopted:
                self._write(files)
            self._drop_sidecars(adopted)
        return [m for m, _ in adopted]

    def _adopt_into(self, files: dict[str, dict[str, Any]]) -> list[tuple[InstalledModel, Path]]:
        """Add adoptable files to ``files`` (under the lock); stale sidecars are deleted."""
        adopted: list[tuple[InstalledModel, Path]] = []
        for meta_path in self._orphan_sidecars():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                repo, name = str(meta["repo"]), str(meta["path"])
                target = self.path_for(repo, name)
                own = self.partial_for(repo, name)
            except (OSError, ValueError, KeyError, TypeError, UnsafePathError):
                continue  # not ours to judge: leave it
            if own.with_name(own.name + ".json") != meta_path:
                continue
            if meta_path.with_name(meta_path.name[: -len(".json")]).exists():
                continue  # a download started again meanwhile
            verified = meta.get("verified")
            entry = self._adoptable(target, verified) if isinstance(verified, dict) else None
            if entry is None:
                # Never verified, or the file is not (or no longer) the one that was.
                with contextlib.suppress(FileNotFoundError):
                    meta_path.unlink()
                continue
            key = f"{repo}/{name}"
            old = files.get(key)
            if old is not None and old.get("sha256") == entry["sha256"]:
                with contextlib.suppress(FileNotFoundError):
                    meta_path.unlink()  # recorded already; the crash came just after
                continue
            files[key] = self._new_entry(
                repo,
                name,
                size=entry["size"],
                sha256=entry["sha256"],
                revision=str(meta.get("revision") or ""),
            )
            adopted.append((self._entry(files[key], target), meta_path))
        return adopted

    @staticmethod
    def _adoptable(target: Path, verified: dict[str, Any]) -> dict[str, Any] | None:
        """``verified`` if ``target`` is the file it describes, else None."""
        try:
            size, sha = int(verified["size"]), str(verified["sha256"])
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
        except (OSError, KeyError, TypeError, ValueError):
            return None
        try:
            st = os.fstat(fd)
            generation = inode_generation(fd)
        finally:
            os.close(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            return None
        # A freed inode number is soon reused: its generation (or else its mtime, both kept by
        # a rename) tells the verified file from a newer one.
        same = (st.st_dev, st.st_ino, st.st_mtime_ns, generation)
        vouched = tuple(verified.get(k) for k in ("dev", "ino", "mtime_ns", "generation"))
        if same == vouched:
            return {"size": size, "sha256": sha}
        digest = hashlib.sha256()
        try:
            with open(target, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    digest.update(chunk)
        except OSError:
            return None
        return {"size": size, "sha256": sha} if digest.hexdigest() == sha else None

    def _drop_sidecars(self, adopted: list[tuple[InstalledModel, Path]]) -> None:
        for _, meta_path in adopted:
            with contextlib.suppress(FileNotFoundError):
                meta_path.unlink()
            self._prune_dirs(meta_path.parent)

    @staticmethod
    def _new_entry(
        repo_id: str, name: str, *, size: int, sha256: str, revision: str
    ) -> dict[str, Any]:
        return {
            "repo": repo_id,
            "path": name,
            "size": size,
            "sha256": sha256,
            "revision": revision,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }

    def record(
        self, repo_id: str, name: str, *, size: int, sha256: str, revision: str
    ) -> InstalledModel:
        """Add (or replace) one verified file in the index, with its kind (see the docstring)."""
        from paitui.services.models.headers import read_model_header

        target = self.path_for(repo_id, name)
        entry = self._new_entry(repo_id, name, size=size, sha256=sha256, revision=revision)
        # Read outside the lock: bounded, but up to seconds for a hostile header.
        verdict = classify(name, read_model_header(target), self._repo_facts.get(repo_id))
        entry.update(
            kind=verdict.kind.value, kind_source=verdict.source.value, kind_why=verdict.why
        )
        key = f"{repo_id}/{name}"
        with self._locked():
            files = self._read(locked=True)
            old = files.get(key) or {}
            if str(old.get("user_kind") or "") in _KIND_VALUES:
                entry["user_kind"] = old["user_kind"]  # the user's choice outlives a re-download
            files[key] = entry
            self._write(files)
        return self._entry(entry, target)

    def set_user_kind(
        self, repo_id: str, name: str, kind: str | None, *, hf_cache: bool = False
    ) -> None:
        """Record the user's type for a file (None: automatic again); KeyError if unknown file.

        ``hf_cache`` files are not in the index's file list: their choice is kept apart.
        """
        if kind is not None and kind not in _KIND_VALUES:
            raise ValueError(f"not a model type: {kind!r}")
        key = f"{repo_id}/{name}"
        with self._locked():
            files = self._read(locked=True)
            cache_kinds = self._cache_kinds()
            if hf_cache:
                if kind is None:
                    cache_kinds.pop(key, None)
                else:
                    cache_kinds[key] = kind
            else:
                entry = files.get(key)
                if entry is None:
                    raise KeyError(key)
                if kind is None:
                    entry.pop("user_kind", None)
                else:
                    entry["user_kind"] = kind
            self._write(files, cache_kinds)

    def cache_kinds(self) -> dict[str, str]:
        """The user's types for HF-cache files: ``{"org/name/path": kind}``."""
        return self._cache_kinds()

    def _entry(self, entry: dict[str, Any], target: Path) -> InstalledModel:
        def kind_field(name: str) -> str:
            value = str(entry.get(name) or "")
            return value if value in _KIND_VALUES else ""

        return InstalledModel(
            repo_id=str(entry["repo"]),
            path=str(entry["path"]),
            store_path=str(target),
            size=int(entry["size"]),
            sha256=str(entry.get("sha256") or ""),
            revision=str(entry.get("revision") or ""),
            date=str(entry.get("date") or ""),
            formats=file_formats(str(entry["path"])),
            kind=kind_field("kind"),
            kind_source=str(entry.get("kind_source") or "")[:20],
            kind_why=str(entry.get("kind_why") or "")[:300],
            user_kind=kind_field("user_kind"),
        )

    def installed(self) -> list[InstalledModel]:
        """Every indexed file that is still on disk, sorted by repo and path.

        Adopts first what a crash left installed but unrecorded (see the module docstring).
        """
        self.adopt()
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
        return next((m for m in self.installed() if m.repo_id == repo_id and m.path == name), None)

    def total_size(self) -> int:
        """Bytes used by all installed files."""
        return sum(m.size for m in self.installed())

    def remove(self, repo_id: str, name: str | None = None) -> list[InstalledModel]:
        """Delete one file (or every file of a repo) from disk and index; returns what went."""
        check_repo_id(repo_id)
        with self._locked():
            files = self._read(locked=True)
            adopted = self._adopt_into(files)  # a crash-orphaned file can be removed too
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
            self._drop_sidecars(adopted)  # only once the index no longer needs them
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
