"""Download model files into the store: queued, resumable, verified and atomic.

Each file is fetched with HTTP GETs on ``{endpoint}/{repo}/resolve/{commit}/{path}`` (following the
hub's redirect to its CDN, without the token on another origin). Unfinished data stays in
``<store>/.partial/<org>/<repo>/<file>.part`` beside ``<file>.part.json``, whose ``bytes_done`` is
always a prefix of the data that is on disk and fsynced; a later run (after a cancel, a crash or a
reboot) truncates to it, re-hashes it and continues with ``Range: bytes=N-``. A finished file is
checked against its LFS sha256 (or git blob sha1), fsynced and renamed into place, so a half-written
file never appears under its final name. Progress goes to listeners (called from worker threads).

Before the rename the metadata records the verified digest and the file's inode; it is deleted
only after the store's index has the file, so a crash in between leaves the store able to adopt
the file (``ModelStore.adopt``); a file the index lost without a sidecar (a damaged index) is
hashed against the hub's checksum on the next pull and recorded without a fetch. Dropped links,
timeouts, 429 (honouring Retry-After) and 5xx answers are retried with backoff, bounded by a count
and a deadline; a wait ends at once on a pause or cancel. A hub that sends more bytes than it
announced, or fewer, is refused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import queue
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from paitui.domain.models.records import (
    TRANSIENT_STATUS,
    Download,
    DownloadState,
    RepoFile,
    RetryPolicy,
    UnsafePathError,
    human_size,
    parse_retry_after,
)
from paitui.services.models.hub import HubConfig, auth_message
from paitui.services.models.store import (
    ModelStore,
    free_space,
    fsync_dir,
    inode_generation,
    write_json_atomic,
)

Listener = Callable[[Download], None]

_META_VERSION = 1


class DownloadError(Exception):
    """A download cannot start or failed; ``str()`` is a one-line message with the fix."""


def _wake(response: Any) -> None:
    """End a read another thread is blocked in: closing an httpx response from here does not
    (the read waits for its timeout), shutting its socket down does, at once."""
    import socket

    stream = getattr(response, "extensions", {}).get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


class _Stop(Exception):
    """Raised inside a transfer when the user paused or cancelled it."""


class _Transient(Exception):
    """A retryable answer (429, 5xx): its status and the Retry-After it carried."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class _Refused(DownloadError):
    """The hub's data cannot be the announced file: the partial data is deleted."""


#: Tests only: ``PAITUI_DEBUG_KILL_AT=installed`` makes the process SIGKILL itself right after a
#: file is renamed into place and before it is recorded; ``verified``: just before the rename
#: (unset: never).
DEBUG_KILL_ENV = "PAITUI_DEBUG_KILL_AT"


def _debug_kill(point: str) -> None:
    if os.environ.get(DEBUG_KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class _Job:
    """Mutable state of one download; ``snapshot`` turns it into a frozen ``Download``."""

    download: Download
    stop: threading.Event = field(default_factory=threading.Event)
    #: What the user asked for when stopping: PAUSED or CANCELLED.
    stop_as: DownloadState = DownloadState.CANCELLED
    thread: threading.Thread | None = None
    response: Any = None
    last_emit: float = 0.0
    done_event: threading.Event = field(default_factory=threading.Event)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


class _Hashes:
    """The running sha256 (always) and git blob sha1 (non-LFS files) of the data so far.

    Hashing runs on its own thread (hashlib releases the GIL), so it overlaps with receiving
    and writing: measured here that doubles throughput on 2 cores (bench/README.md).
    ``digests`` and ``reset`` wait until every byte fed so far is hashed.
    """

    def __init__(self, f: RepoFile) -> None:
        self._blob_size = f.size if (f.blob_id and not f.sha256 and f.size is not None) else None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=256)
        self._thread: threading.Thread | None = None
        self._new()

    def _new(self) -> None:
        self.sha256 = hashlib.sha256()
        self.blob = _blob_hasher(self._blob_size) if self._blob_size is not None else None

    def _work(self) -> None:
        while True:
            data = self._queue.get()
            try:
                if data is None:
                    return
                self.sha256.update(data)
                if self.blob is not None:
                    self.blob.update(data)
            finally:
                self._queue.task_done()

    def update(self, data: bytes) -> None:
        """Feed the next bytes (returns at once unless the hasher is far behind)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="sha256", daemon=True)
            self._thread.start()
        self._queue.put(data)

    def wait(self) -> None:
        """Block until everything fed is hashed."""
        self._queue.join()

    def reset(self) -> None:
        """Start over (the server sent the whole file again)."""
        self.wait()
        self._new()

    def close(self) -> None:
        """Stop the hashing thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


def _blob_hasher(size: int) -> Any:
    """git's blob id: sha1 over ``blob <size>\\0`` and the content."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(b"blob %d\x00" % size)
    return h


class DownloadManager:
    """A queue of file downloads with a concurrency limit; thread-safe."""

    def __init__(
        self,
        store: ModelStore,
        hub: HubConfig | None = None,
        *,
        concurrency: int = 2,
        read_timeout: float = 30.0,
        max_retries: int = 6,
        backoff: float | None = None,
        max_backoff: float = 30.0,
        retry_deadline: float = 300.0,
        max_retry_after: float = 120.0,
        chunk_size: int = 1 << 20,
        checkpoint_interval: float = 1.0,
        progress_interval: float = 0.2,
    ) -> None:
        self.store = store
        self.hub = hub or HubConfig.from_env()
        self.concurrency = max(1, concurrency)
        self.read_timeout = read_timeout
        # Retries of one file without progress: at most max_retries, within retry_deadline s.
        self.retry = RetryPolicy(
            attempts=max_retries,
            base=self.hub.retry.base if backoff is None else backoff,
            cap=max_backoff,
            deadline=retry_deadline,
            max_retry_after=max_retry_after,
        )
        self.chunk_size = chunk_size
        self.checkpoint_interval = checkpoint_interval
        self.progress_interval = progress_interval
        self._lock = threading.RLock()
        self._jobs: dict[str, _Job] = {}
        self._order: list[str] = []
        self._listeners: list[Listener] = []

    # --- listeners and snapshots -----------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(download)`` on every change (from worker threads)."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        with self._lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def snapshot(self) -> list[Download]:
        """Every download this manager knows, in the order they were queued."""
        with self._lock:
            return [self._jobs[i].download for i in self._order]

    def get(self, download_id: str) -> Download | None:
        """One download by id."""
        with self._lock:
            job = self._jobs.get(download_id)
            return job.download if job else None

    def _update(self, job: _Job, *, force: bool = True, **changes: Any) -> None:
        with self._lock:
            job.download = replace(job.download, **changes)
            snap = job.download
            now = time.monotonic()
            if not force and now - job.last_emit < self.progress_interval:
                return
            job.last_emit = now
            listeners = list(self._listeners)
        for listener in listeners:
            with contextlib.suppress(Exception):  # a broken listener must not break a download
                listener(snap)

    # --- planning --------------------------------------------------------------------------

    def bytes_needed(self, repo_id: str, files: Iterable[RepoFile]) -> int:
        """Bytes still to fetch for ``files`` (their size minus partial data already kept)."""
        total = 0
        for f in files:
            size = f.size or 0
            meta = self._read_meta(self.store.partial_for(repo_id, f.path))
            if meta and self._meta_matches(meta, f):
                size -= min(size, int(meta.get("bytes_done", 0)))
            total += size
        return total

    def check_space(self, repo_id: str, files: Sequence[RepoFile]) -> None:
        """Raise DownloadError if the store's file system lacks room for ``files``.

        Counts what queued and running downloads still need, so two pulls cannot both pass.
        """
        needed = self.bytes_needed(repo_id, files)
        with self._lock:
            for job in self._jobs.values():
                d = job.download
                if d.state in (DownloadState.QUEUED, DownloadState.RUNNING):
                    needed += max(0, (d.bytes_total or 0) - d.bytes_done)
        free, mount = free_space(self.store.root)
        if needed > free:
            raise DownloadError(
                f"not enough disk space: needs {human_size(needed)}, {human_size(free)} free on "
                f"{mount} (free some space or set models_dir to a bigger disk)"
            )

    # --- queue control ---------------------------------------------------------------------

    def enqueue(
        self, repo_id: str, revision: str, files: Sequence[RepoFile], *, check_space: bool = True
    ) -> list[Download]:
        """Queue ``files`` of ``repo_id`` at commit ``revision``; returns their downloads.

        Files already installed with the same checksum are reported done at once; a file that
        is already queued or running is not queued twice.
        """
        for f in files:
            try:
                self.store.path_for(repo_id, f.path)
            except UnsafePathError as exc:
                raise DownloadError(str(exc)) from None
        todo = [f for f in files if not self._installed_same(repo_id, f)]
        if check_space:
            with self._lock:
                fresh = [f for f in todo if not self._active(f"{repo_id}/{f.path}")]
            self.check_space(repo_id, fresh)
        out: list[Download] = []
        for f in files:
            out.append(self._add(repo_id, revision, f, installed=f not in todo))
        self._pump()
        return out

    def _installed_same(self, repo_id: str, f: RepoFile) -> bool:
        item = self.store.find(repo_id, f.path)
        if item is None:
            return False
        if f.sha256:
            return item.sha256 == f.sha256
        return f.size is None or item.size == f.size

    def _active(self, download_id: str) -> bool:
        job = self._jobs.get(download_id)
        return job is not None and job.download.state in (
            DownloadState.QUEUED,
            DownloadState.RUNNING,
            DownloadState.VERIFYING,
        )

    def _add(self, repo_id: str, revision: str, f: RepoFile, *, installed: bool) -> Download:
        download_id = f"{repo_id}/{f.path}"
        target = str(self.store.path_for(repo_id, f.path))
        with self._lock:
            if self._active(download_id):
                return self._jobs[download_id].download
            state = DownloadState.DONE if installed else DownloadState.QUEUED
            download = Download(
                id=download_id,
                repo_id=repo_id,
                file=f,
                revision=revision,
                state=state,
                bytes_total=f.size,
                bytes_done=(f.size or 0) if installed else 0,
                target=target,
            )
            job = _Job(download)
            if installed:
                job.done_event.set()
            self._jobs[download_id] = job
            if download_id in self._order:
                self._order.remove(download_id)
            self._order.append(download_id)
        self._update(job)
        return download

    def pause(self, download_id: str) -> None:
        """Stop a download but keep it (and its partial data) to resume later."""
        self._stop(download_id, DownloadState.PAUSED)

    def cancel(self, download_id: str) -> None:
        """Stop a download; its partial data is kept, so pulling it again continues it."""
        self._stop(download_id, DownloadState.CANCELLED)

    def _stop(self, download_id: str, state: DownloadState) -> None:
        with self._lock:
            job = self._jobs.get(download_id)
            if job is None or job.download.state.finished:
                return
            if job.download.state in (DownloadState.QUEUED, DownloadState.PAUSED):
                job.download = replace(job.download, state=state, speed=0.0)
                job.done_event.set()
                running = False
            else:
                job.stop_as = state
                job.stop.set()
                running = True
                response = job.response
        if running and response is not None:
            _wake(response)
        else:
            self._update(job)
            self._pump()

    def resume(self, download_id: str) -> None:
        """Queue a paused, cancelled or failed download again."""
        with self._lock:
            job = self._jobs.get(download_id)
            if job is None or job.download.state not in (
                DownloadState.PAUSED,
                DownloadState.CANCELLED,
                DownloadState.FAILED,
            ):
                return
            if job.thread is not None and job.thread.is_alive():
                return  # still winding down; the user can resume again in a moment
            job.stop = threading.Event()
            job.done_event = threading.Event()
            job.download = replace(job.download, state=DownloadState.QUEUED, error=None)
        self._update(job)
        self._pump()

    def discard(self, download_id: str) -> None:
        """Forget a finished or stopped download and delete its partial data."""
        with self._lock:
            job = self._jobs.get(download_id)
            if job is None or self._active(download_id):
                return
            if job.thread is not None and job.thread.is_alive():
                return
            del self._jobs[download_id]
            self._order.remove(download_id)
            d = job.download
        part = self.store.partial_for(d.repo_id, d.file.path)
        for p in (part, self._meta_path(part)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def wait(self, download_ids: Iterable[str] | None = None, timeout: float | None = None) -> bool:
        """Block until the downloads are finished (or paused); False on timeout."""
        with self._lock:
            ids = list(download_ids) if download_ids is not None else list(self._order)
            events = [self._jobs[i].done_event for i in ids if i in self._jobs]
        deadline = None if timeout is None else time.monotonic() + timeout
        for ev in events:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not ev.wait(left):
                return False
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Pause everything running (partials are kept) and wait for the threads to stop."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.download.state in (DownloadState.QUEUED, DownloadState.RUNNING):
                self.pause(job.download.id)
        for job in jobs:
            if job.thread is not None:
                job.thread.join(timeout)

    def _pump(self) -> None:
        """Start queued downloads while fewer than ``concurrency`` run."""
        with self._lock:
            running = sum(
                1
                for j in self._jobs.values()
                if j.download.state in (DownloadState.RUNNING, DownloadState.VERIFYING)
                or (j.thread is not None and j.thread.is_alive())
            )
            for download_id in self._order:
                if running >= self.concurrency:
                    break
                job = self._jobs[download_id]
                if job.download.state != DownloadState.QUEUED:
                    continue
                if job.thread is not None and job.thread.is_alive():
                    continue
                job.download = replace(job.download, state=DownloadState.RUNNING)
                job.thread = threading.Thread(
                    target=self._run, args=(job,), name=f"download {download_id}", daemon=True
                )
                job.thread.start()
                running += 1

    # --- one transfer ----------------------------------------------------------------------

    def _run(self, job: _Job) -> None:
        self._update(job)
        try:
            self._transfer(job)
        except _Stop:
            self._update(job, state=job.stop_as, speed=0.0)
        except DownloadError as exc:
            self._update(job, state=DownloadState.FAILED, error=str(exc), speed=0.0)
        except Exception as exc:  # never let a thread die silently
            if job.stop.is_set():  # closing the response from another thread lands here
                self._update(job, state=job.stop_as, speed=0.0)
                return
            self._update(
                job, state=DownloadState.FAILED, error=f"unexpected error: {exc}", speed=0.0
            )
        finally:
            with self._lock:
                job.response = None
                job.thread = None
            job.done_event.set()
            self._pump()

    @staticmethod
    def _meta_path(part: Path) -> Path:
        return part.with_name(part.name + ".json")

    @staticmethod
    def _read_meta(part: Path) -> dict[str, Any] | None:
        try:
            meta = json.loads(DownloadManager._meta_path(part).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) and meta.get("version") == _META_VERSION else None

    @staticmethod
    def _meta_matches(meta: dict[str, Any], f: RepoFile) -> bool:
        """Partial data belongs to this file only if it is the same content (checksum and size)."""
        return (
            meta.get("sha256") == f.sha256
            and meta.get("blob_id") == f.blob_id
            and meta.get("size") == f.size
        )

    def _transfer(self, job: _Job) -> None:
        d = job.download
        f = d.file
        if self.hub.offline:
            raise DownloadError("offline: HF_HUB_OFFLINE is set (unset it to download)")
        part = self.store.partial_for(d.repo_id, f.path)
        meta_path = self._meta_path(part)
        target = Path(d.target)
        url = self.hub.resolve_url(d.repo_id, d.revision, f.path)
        if self._already_there(job, target):
            return
        try:
            part.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DownloadError(
                f"cannot write to the store {self.store.root}: {exc.strerror}"
            ) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise DownloadError(
                    f"{d.id} is being downloaded by another paitui process"
                ) from None
            meta = self._read_meta(part)
            on_disk = os.fstat(fd).st_size
            offset = 0
            if meta is not None and self._meta_matches(meta, f):
                # Only the prefix the metadata vouches for is trusted (it was fsynced first).
                offset = min(int(meta.get("bytes_done", 0)), on_disk)
            os.ftruncate(fd, offset)
            meta = {
                "version": _META_VERSION,
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
            hashes = _Hashes(f)
            try:
                self._rehash(fd, offset, hashes, job)
                self._update(job, bytes_done=offset, resumed_from=offset)
                try:
                    offset = self._fetch(job, fd, url, offset, hashes, meta, meta_path)
                except _Refused:
                    self._remove_partial(part, meta_path)
                    raise
                hashes.wait()
                self._verify(job, part, meta_path, offset, hashes)
            finally:
                hashes.close()
            digest = hashes.sha256.hexdigest()
            os.fsync(fd)
            # The sidecar the store adopts from if we die between the rename and the record.
            st = os.fstat(fd)
            verified = {
                "sha256": digest,
                "size": offset,
                "dev": st.st_dev,
                "ino": st.st_ino,
                "mtime_ns": st.st_mtime_ns,
                "generation": inode_generation(fd),
            }
            write_json_atomic(meta_path, {**meta, "bytes_done": offset, "verified": verified})
            _debug_kill("verified")
            # Rename while still holding the lock, so no other process can open this inode as
            # its partial and truncate it.
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)
            fsync_dir(target.parent)
            _debug_kill("installed")
            try:
                self.store.record(
                    d.repo_id, f.path, size=offset, sha256=digest, revision=d.revision
                )
            except OSError as exc:
                # The sidecar stays: the store adopts the file once it can write its index.
                raise DownloadError(
                    f"{d.id}: verified and installed, but the store's index could not be "
                    f"written ({exc.strerror or exc}); it is picked up at the next listing"
                ) from None
            with contextlib.suppress(FileNotFoundError):
                meta_path.unlink()
        finally:
            os.close(fd)
        self._prune_partial_dirs(part.parent)
        self._update(job, state=DownloadState.DONE, bytes_done=offset, speed=0.0)

    def _already_there(self, job: _Job, target: Path) -> bool:
        """Record the file at ``target`` if the index lost it (a damaged index, a file put back)
        and it is byte for byte the hub's file: hashed against the hub's checksum, not fetched."""
        d = job.download
        f = d.file
        if f.size is None or not (f.sha256 or f.blob_id):
            return False
        try:
            st = target.stat()
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode) or st.st_size != f.size:
            return False
        if self.store.find(d.repo_id, f.path) is not None:
            return False  # recorded with another checksum: an older version, to be replaced
        self._update(job, state=DownloadState.VERIFYING, bytes_done=0, speed=0.0)
        hashes = _Hashes(f)
        try:
            with open(target, "rb") as fh:
                while chunk := fh.read(self.chunk_size * 4):
                    if job.stop.is_set():
                        raise _Stop
                    hashes.update(chunk)
            hashes.wait()
        except OSError:
            return False
        finally:
            hashes.close()
        digest = hashes.sha256.hexdigest()
        if f.sha256:
            same = digest == f.sha256
        else:
            same = hashes.blob is not None and hashes.blob.hexdigest() == f.blob_id
        if not same:
            return False
        self.store.record(d.repo_id, f.path, size=f.size, sha256=digest, revision=d.revision)
        self._update(job, state=DownloadState.DONE, bytes_done=f.size, speed=0.0)
        return True

    @staticmethod
    def _remove_partial(part: Path, meta_path: Path) -> None:
        # Metadata last: a sidecar without data is stale, data without a sidecar is never used.
        for p in (part, meta_path):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def _prune_partial_dirs(self, start: Path) -> None:
        root = self.store.partial_root
        d = start
        while d != root and root in d.parents:
            try:
                d.rmdir()
            except OSError:
                return
            d = d.parent

    def _rehash(self, fd: int, length: int, hashes: _Hashes, job: _Job) -> None:
        """Hash the kept prefix again: the verified checksum covers every byte of the file."""
        pos = 0
        while pos < length:
            if job.stop.is_set():
                raise _Stop
            chunk = os.pread(fd, min(self.chunk_size * 4, length - pos), pos)
            if not chunk:
                break
            hashes.update(chunk)
            pos += len(chunk)

    def _checkpoint(self, fd: int, meta: dict[str, Any], meta_path: Path, offset: int) -> None:
        """Make ``offset`` bytes durable, then record them: metadata never runs ahead of data.

        ``meta["bytes_done"]`` changes only once the new metadata is on disk.
        """
        os.fsync(fd)
        write_json_atomic(meta_path, {**meta, "bytes_done": offset})
        meta["bytes_done"] = offset

    def _open(self, client: Any, url: str, offset: int) -> Any:
        """GET ``url`` from ``offset``, following redirects; the token only goes to the hub."""
        import httpx

        hub_origin = _origin(self.hub.endpoint)
        headers = {"Accept-Encoding": "identity", "User-Agent": "paitui"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        for _hop in range(10):
            h = dict(headers)
            if _origin(url) == hub_origin:
                h.update(self.hub.auth_headers())
            response = client.send(client.build_request("GET", url, headers=h), stream=True)
            if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                response.close()
                continue
            return response
        raise httpx.TooManyRedirects("too many redirects")

    def _fetch(
        self,
        job: _Job,
        fd: int,
        url: str,
        offset: int,
        hashes: _Hashes,
        meta: dict[str, Any],
        meta_path: Path,
    ) -> int:
        import httpx

        d = job.download
        size = d.file.size
        self._checkpoint(fd, meta, meta_path, offset)
        timeout = httpx.Timeout(connect=15.0, read=self.read_timeout, write=15.0, pool=15.0)
        failures = 0
        since = time.monotonic()  # when the current run of failures (without progress) began
        speed = 0.0
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=True) as client:
            while True:
                if size is not None and offset >= size:
                    return offset
                if job.stop.is_set():
                    self._checkpoint(fd, meta, meta_path, offset)
                    raise _Stop
                progressed = False
                retry_after: float | None = None
                try:
                    response = self._open(client, url, offset)
                    with self._lock:
                        job.response = response
                    try:
                        offset = self._accept(response, fd, offset, hashes, d)
                        last_check = time.monotonic()
                        window_start, window_bytes = last_check, 0
                        # No chunk_size: every network read is kept, so a drop loses nothing.
                        for chunk in response.iter_raw():
                            if job.stop.is_set():
                                break
                            if size is not None and offset + len(chunk) > size:
                                raise _Refused(
                                    f"{d.id}: the hub sent more than the {size} bytes it "
                                    "announced; the data was removed (pull again to retry)"
                                )
                            self._write(fd, chunk, offset, meta, meta_path)
                            hashes.update(chunk)
                            offset += len(chunk)
                            progressed = True
                            window_bytes += len(chunk)
                            now = time.monotonic()
                            if now - window_start >= self.progress_interval:
                                rate = window_bytes / (now - window_start)
                                speed = rate if speed == 0 else 0.7 * speed + 0.3 * rate
                                window_start, window_bytes = now, 0
                                self._update(job, force=False, bytes_done=offset, speed=speed)
                            if now - last_check >= self.checkpoint_interval:
                                self._checkpoint(fd, meta, meta_path, offset)
                                last_check = now
                    finally:
                        response.close()
                        with self._lock:
                            job.response = None
                    if job.stop.is_set():
                        self._checkpoint(fd, meta, meta_path, offset)
                        raise _Stop
                    self._checkpoint(fd, meta, meta_path, offset)
                    if size is None or offset >= size:
                        return offset
                    # The server closed the body early: continue from here like a dropped link.
                    raise httpx.RemoteProtocolError("the server ended the body early")
                except _Transient as exc:
                    status: int | None = exc.status
                    retry_after = exc.retry_after
                    why = _status_reason(exc.status)
                    stalled = False
                except (httpx.TransportError, OSError) as exc:
                    if isinstance(exc, OSError) and not isinstance(exc, ConnectionError):
                        raise
                    status, why = None, _why(exc)
                    stalled = isinstance(exc, httpx.TimeoutException)
                self._checkpoint(fd, meta, meta_path, offset)
                if job.stop.is_set():
                    raise _Stop from None
                now = time.monotonic()
                if progressed:
                    failures, since = 0, now
                failures += 1
                wait = self.retry.delay(failures, retry_after)
                gave_up = self.retry.gives_up(failures, now - since, wait, retry_after)
                if gave_up is not None:
                    raise DownloadError(
                        _give_up_message(d, status, why, gave_up, failures, stalled)
                        + f"; {human_size(offset)} kept, pull again to continue"
                    )
                self._update(
                    job,
                    bytes_done=offset,
                    speed=0.0,
                    error=f"{why}: retrying in {wait:.1f}s (try {failures + 1} "
                    f"of {self.retry.attempts + 1})",
                )
                if job.stop.wait(wait):
                    raise _Stop from None
                self._update(job, error=None)

    def _accept(self, response: Any, fd: int, offset: int, hashes: _Hashes, d: Download) -> int:
        """Check the status of a (ranged) answer; restart from 0 when the server ignored Range."""
        status = response.status_code
        if status == 206:
            crange = response.headers.get("content-range", "")
            try:
                start = int(crange.split()[1].split("-")[0])
            except (IndexError, ValueError):
                start = -1
            if start == offset:
                return offset
        elif status == 200:
            if offset == 0:
                return 0
        elif status == 416 and d.file.size is not None and offset >= d.file.size:
            return offset
        elif status == 416 and d.file.size is not None:
            raise _Refused(
                f"{d.id}: the hub has only {offset} of the {d.file.size} bytes it announced; "
                "the data was removed (pull again later)"
            )
        elif status in TRANSIENT_STATUS:
            retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
            raise _Transient(status, retry_after)
        else:
            raise DownloadError(
                _http_message(
                    status,
                    response.headers,
                    d,
                    has_token=bool(self.hub.token),
                    endpoint=self.hub.endpoint,
                )
            )
        # A full body (or a range we did not ask for): start over cleanly.
        if status == 206:
            raise DownloadError(f"{d.id}: the server sent an unexpected byte range ({crange})")
        os.ftruncate(fd, 0)
        hashes.reset()
        return 0

    def _write(
        self, fd: int, chunk: bytes, offset: int, meta: dict[str, Any], meta_path: Path
    ) -> None:
        """Write ``chunk`` at ``offset``; on a full disk, cut back to ``offset`` and say so."""
        view = memoryview(chunk)
        pos = offset
        try:
            while view:
                n = os.pwrite(fd, view, pos)
                view = view[n:]
                pos += n
        except OSError as exc:
            # Keep the partial consistent: drop the torn chunk and record what is whole; if even
            # the small metadata file cannot be written, cut the data back to what it records.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, offset)
            try:
                self._checkpoint(fd, meta, meta_path, offset)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, int(meta["bytes_done"]))
                    os.fsync(fd)
                offset = int(meta["bytes_done"])
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                free, mount = free_space(meta_path.parent)
                raise DownloadError(
                    f"disk full on {mount} after {human_size(offset)} "
                    f"({human_size(free)} free): free some space, then pull again to continue"
                ) from None
            raise DownloadError(f"cannot write the download: {exc.strerror}") from None

    def _verify(self, job: _Job, part: Path, meta_path: Path, offset: int, hashes: _Hashes) -> None:
        d = job.download
        f = d.file
        self._update(job, state=DownloadState.VERIFYING, bytes_done=offset, speed=0.0)
        sha, blob = hashes.sha256, hashes.blob
        problem = None
        if f.size is not None and offset != f.size:
            problem = f"size mismatch: expected {f.size} bytes, got {offset}"
        elif f.sha256 and sha.hexdigest() != f.sha256:
            problem = f"sha256 mismatch: expected {f.sha256[:16]}…, got {sha.hexdigest()[:16]}…"
        elif blob is not None and f.blob_id and blob.hexdigest() != f.blob_id:
            got = blob.hexdigest()[:12]
            problem = f"git blob id mismatch: expected {f.blob_id[:12]}…, got {got}…"
        if problem:
            for p in (part, meta_path):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            raise DownloadError(
                f"{d.id}: {problem}; the corrupt data was removed (pull again to retry)"
            )


def _why(exc: BaseException) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "no data within the read timeout"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _status_reason(status: int) -> str:
    if status == 429:
        return "the hub is rate limiting requests (HTTP 429)"
    return f"the hub answered HTTP {status}"


def _give_up_message(
    d: Download, status: int | None, why: str, gave_up: str, failures: int, stalled: bool
) -> str:
    """Why a download stopped retrying, with what to do."""
    if status == 429:
        return (
            f"{d.id}: the hub is rate limiting requests (HTTP 429; {gave_up}): wait a few "
            "minutes (a token in HF_TOKEN gets higher limits)"
        )
    if status is not None:
        return f"{d.id}: the hub answered HTTP {status} ({gave_up}): it is having trouble"
    kind = "stalled" if stalled else "failed"
    return f"{d.id}: download {kind} {failures} times in a row ({why}; {gave_up})"


def _http_message(
    status: int,
    headers: Any,
    d: Download,
    *,
    has_token: bool = False,
    endpoint: str = "https://huggingface.co",
) -> str:
    code = headers.get("x-error-code", "")
    if code == "GatedRepo":
        return f"{d.repo_id} is gated: accept its terms on the hub and set HF_TOKEN"
    if code == "RepoNotFound":
        hint = "check that your token can read it" if has_token else "or is private: set HF_TOKEN"
        return f"{d.repo_id} was not found ({hint})"
    if status in (401, 403):
        return auth_message(status, d.repo_id, has_token=has_token, endpoint=endpoint)
    if code == "RevisionNotFound":
        return f"{d.repo_id} has no revision {d.revision}"
    if code == "EntryNotFound" or status == 404:
        return f"{d.id}: the file is not on the hub at {d.revision[:12]}"
    return f"{d.id}: the hub answered HTTP {status}"
