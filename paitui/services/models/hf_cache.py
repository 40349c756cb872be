"""The user's Hugging Face hub cache: where it is and what models it already holds.

Read-only: nothing here writes to the cache. Links are never followed out of it: a snapshot entry
whose target resolves outside the cache root (or to nothing, or to something that is not a
regular file) is reported as a problem and left out. Unfinished downloads (``blobs/*.incomplete``)
are counted, never listed as files.

Layout (huggingface_hub ``file_download.py``): ``<cache>/models--<org>--<name>/`` holds
``refs/<branch>`` (the commit, no newline), ``snapshots/<commit>/<path>`` (symlinks to
``../../blobs/<etag>``, or plain files in a cache written without symlinks) and ``blobs/``.

Should paitui's own store use this layout? Recommendation for the coordinator: **yes, with plain
files** -- ``models--<org>--<name>/snapshots/<commit>/<path>`` plus ``refs/main`` holding the
commit with no trailing newline, and no ``blobs/`` or symlinks. Reasons:

* It is a valid cache as it stands: ``hf_hub_download``, ``try_to_load_from_cache`` and
  ``snapshot_download(local_files_only=True)`` accept plain files in ``snapshots/<rev>/`` (it is
  huggingface_hub's own layout when symlinks are off), so apps that read the HF cache (vLLM,
  transformers/diffusers, ai-runner, Open WebUI, ``llama-server -hf --offline``) get the store
  mounted read-only with ``HF_HUB_OFFLINE=1`` and no second copy.
* The user's existing cache and the store then read the same way (this module), and a repo in
  either can be handed to an app the same way.
* Plain files survive per-file bind mounts and copies where relative blob symlinks do not, and the
  sha256 check the store already does needs no blob naming scheme.
* Apps that want per-kind folders (ComfyUI, A1111, Fooocus) are served from the paitui index
  (per-file mounts or extra-path configs), as they must be with any layout.

Costs: store paths carry the 40-hex commit (the index, not the path, is what users see), a new
revision is a new snapshot folder (move unchanged files across, do not copy), and the store must
stay read-only or offline in containers, or huggingface_hub will write ``refs`` and downloads into
it. The user's own cache is reused in place, mounted read-only, never copied into the store.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: Bounds on what one scan walks, so a pathological tree cannot take forever.
MAX_DEPTH = 32
MAX_FILES_PER_REVISION = 100_000
_REF_MAX = 256


@dataclass(frozen=True)
class CachedFile:
    """One finished file of a cached revision."""

    path: str  # inside the repo, with '/'
    size: int
    #: The real file on disk: the blob a snapshot link points to, or the snapshot file itself.
    blob_path: Path
    #: The entry under ``snapshots/<rev>/`` (what apps reading the cache open).
    snapshot_path: Path
    linked: bool  # True when the snapshot entry is a symlink to a blob


@dataclass(frozen=True)
class CachedRevision:
    """One snapshot of a repo."""

    commit: str
    refs: tuple[str, ...]  # branch/tag names pointing at it (``main``, ``pr/1``)
    files: tuple[CachedFile, ...]

    @property
    def size(self) -> int:
        """Bytes of its files."""
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class CachedRepo:
    """A model repo in the cache."""

    repo_id: str
    path: Path
    revisions: tuple[CachedRevision, ...]
    #: Unfinished downloads (``blobs/*.incomplete``): count and bytes so far.
    incomplete: int = 0
    incomplete_bytes: int = 0
    #: Entries left out, with why (broken links, links out of the cache, odd refs).
    problems: tuple[str, ...] = ()

    def revision(self, ref: str = "main") -> CachedRevision | None:
        """The revision a ref (or a commit) names, if cached."""
        for rev in self.revisions:
            if rev.commit == ref or ref in rev.refs:
                return rev
        return None

    @property
    def complete(self) -> bool:
        """True when nothing is unfinished or broken."""
        return not self.incomplete and not self.problems


@dataclass(frozen=True)
class CacheScan:
    """Everything one scan found."""

    root: Path
    repos: tuple[CachedRepo, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    def repo(self, repo_id: str) -> CachedRepo | None:
        """The cached repo with this id."""
        return next((r for r in self.repos if r.repo_id == repo_id), None)


def hub_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where huggingface_hub keeps its cache, with its own precedence (``constants.py``).

    ``HF_HUB_CACHE``, then ``HUGGINGFACE_HUB_CACHE``, then ``$HF_HOME/hub``, then
    ``$XDG_CACHE_HOME/huggingface/hub``, then ``~/.cache/huggingface/hub``; ``~`` and ``$VARS`` are
    expanded like huggingface_hub does. An empty variable counts as unset (huggingface_hub would
    use the current directory, which is never what the user means).
    """
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        return env.get(name) or None

    user_home = get("HOME") or os.path.expanduser("~")
    home = get("HF_HOME") or os.path.join(
        get("XDG_CACHE_HOME") or os.path.join(user_home, ".cache"), "huggingface"
    )
    home = _expand(home, env)
    cache = get("HF_HUB_CACHE") or get("HUGGINGFACE_HUB_CACHE") or os.path.join(home, "hub")
    return Path(_expand(cache, env))


def _expand(path: str, env: Mapping[str, str]) -> str:
    if path == "~" or path.startswith("~/"):
        path = (env.get("HOME") or os.path.expanduser("~")) + path[1:]
    else:
        path = os.path.expanduser(path)  # ~user
    return re.sub(
        r"\$(\w+)|\$\{(\w+)\}",
        lambda m: env.get(m[1] or m[2], m[0]),
        path,
    )


def repo_folder_name(repo_id: str) -> str:
    """``org/name`` -> ``models--org--name`` (huggingface_hub ``repo_folder_name``)."""
    return "models--" + repo_id.replace("/", "--")


def scan_hub_cache(root: Path | None = None) -> CacheScan:
    """List the model repos in the cache at ``root`` (default: ``hub_cache_dir()``)."""
    root = Path(root) if root is not None else hub_cache_dir()
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return CacheScan(root)
    except OSError as err:
        return CacheScan(root, problems=(f"{root}: cannot read ({err.strerror or err})",))
    try:
        real_root = Path(os.path.realpath(root))
    except OSError:
        real_root = root
    repos: list[CachedRepo] = []
    problems: list[str] = []
    for entry in entries:
        if not entry.name.startswith("models--"):
            continue  # datasets--, spaces--, .locks, version.txt
        repo_id = _repo_id(entry.name)
        if repo_id is None or not entry.is_dir(follow_symlinks=False):
            problems.append(f"{entry.name}: not a model repo folder")
            continue
        repos.append(_scan_repo(repo_id, Path(entry.path), real_root))
    return CacheScan(root, tuple(repos), tuple(problems))


def _repo_id(folder: str) -> str | None:
    # The hub forbids '--' in names, so the folder name splits back unambiguously.
    parts = folder.removeprefix("models--").split("--")
    if not 1 <= len(parts) <= 2 or not all(re.fullmatch(r"[\w.-]+", p) for p in parts):
        return None
    return "/".join(parts)


def _scan_repo(repo_id: str, path: Path, real_root: Path) -> CachedRepo:
    problems: list[str] = []
    refs = _read_refs(path / "refs", problems)
    by_commit: dict[str, list[str]] = {}
    for name, commit in refs.items():
        by_commit.setdefault(commit, []).append(name)
    revisions: list[CachedRevision] = []
    snaps = path / "snapshots"
    try:
        snap_entries = sorted(os.scandir(snaps), key=lambda e: e.name)
    except OSError:
        snap_entries = []
    for snap in snap_entries:
        if not snap.is_dir(follow_symlinks=False):
            continue
        if not _COMMIT.match(snap.name):
            problems.append(f"snapshots/{snap.name}: not a commit hash")
            continue
        files: list[CachedFile] = []
        _walk_snapshot(Path(snap.path), "", real_root, files, problems, 0)
        files.sort(key=lambda f: f.path)
        revisions.append(
            CachedRevision(snap.name, tuple(sorted(by_commit.get(snap.name, ()))), tuple(files))
        )
    for commit, names in by_commit.items():
        if not any(r.commit == commit for r in revisions):
            problems.append(f"refs/{names[0]} points at {commit[:12]}, which is not cached")
    incomplete, incomplete_bytes = _incomplete_blobs(path / "blobs")
    return CachedRepo(
        repo_id, path, tuple(revisions), incomplete, incomplete_bytes, tuple(problems)
    )


def _read_refs(refs_dir: Path, problems: list[str]) -> dict[str, str]:
    """``{ref name: commit}`` from ``refs/`` (nested: ``refs/pr/1``); odd refs become problems."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(refs_dir, followlinks=False):
        if dirpath.count(os.sep) - str(refs_dir).count(os.sep) > 4:
            dirnames.clear()
            continue
        for name in filenames:
            full = os.path.join(dirpath, name)
            ref = os.path.relpath(full, refs_dir).replace(os.sep, "/")
            try:
                st = os.lstat(full)
                if not stat.S_ISREG(st.st_mode) or st.st_size > _REF_MAX:
                    raise ValueError
                with open(full, "rb") as fh:
                    raw = fh.read(_REF_MAX).decode("ascii")
            except (OSError, ValueError):
                problems.append(f"refs/{ref}: unreadable")
                continue
            commit = raw.strip()
            if raw != commit:
                # huggingface_hub reads refs without strip: it would look for "<commit>\n".
                problems.append(f"refs/{ref}: blanks around the commit (huggingface_hub misses it)")
            if _COMMIT.match(commit):
                found[ref] = commit
            else:
                problems.append(f"refs/{ref}: not a commit hash")
    return found


def _walk_snapshot(
    folder: Path,
    prefix: str,
    real_root: Path,
    files: list[CachedFile],
    problems: list[str],
    depth: int,
) -> None:
    if depth > MAX_DEPTH:
        problems.append(f"{prefix}: nested too deeply, not listed")
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        problems.append(f"{prefix or '.'}: cannot read ({err.strerror or err})")
        return
    for entry in entries:
        rel = f"{prefix}{entry.name}"
        if len(files) >= MAX_FILES_PER_REVISION:
            problems.append(f"more than {MAX_FILES_PER_REVISION} files, the rest not listed")
            return
        if entry.is_dir(follow_symlinks=False):
            _walk_snapshot(Path(entry.path), rel + "/", real_root, files, problems, depth + 1)
            continue
        snap_path = Path(entry.path)
        linked = entry.is_symlink()
        if linked:
            real = Path(os.path.realpath(snap_path))
            if not real.is_relative_to(real_root):
                problems.append(f"{rel}: links outside the cache, not listed")
                continue
        else:
            real = snap_path
        try:
            st = os.lstat(real)
        except OSError:
            problems.append(f"{rel}: broken link (blob missing)")
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(f"{rel}: not a regular file")
            continue
        files.append(CachedFile(rel, st.st_size, real, snap_path, linked))


def _incomplete_blobs(blobs: Path) -> tuple[int, int]:
    count = size = 0
    try:
        entries = list(os.scandir(blobs))
    except OSError:
        return 0, 0
    for entry in entries:
        if entry.name.endswith(".incomplete"):
            count += 1
            with contextlib.suppress(OSError):
                size += entry.stat(follow_symlinks=False).st_size
    return count, size
