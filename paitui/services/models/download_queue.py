"""The download queue: jobs, their states, the concurrency limit and the listeners.

Each running job downloads its file in its own thread (``file_transfer.FileTransfer``); the
partial data it keeps (``partial_files``) lets a paused, cancelled or crashed download continue.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Unpack

from paitui.domain.models.records import (
    Download,
    DownloadState,
    RepoFile,
    RetryPolicy,
    UnsafePathError,
    human_size,
)
from paitui.services.models.download_errors import DownloadError, Stop
from paitui.services.models.file_transfer import DownloadChanges, FileTransfer, Job, TransferOptions
from paitui.services.models.hub import HubConfig
from paitui.services.models.partial_files import kept_bytes, remove_partial
from paitui.services.models.store import ModelStore, free_space
from paitui.services.models.transfer import wake

Listener = Callable[[Download], None]


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
        self.options = TransferOptions(
            read_timeout, self.retry, chunk_size, checkpoint_interval, progress_interval
        )
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
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

    def _update(self, job: Job, *, force: bool = True, **changes: Unpack[DownloadChanges]) -> None:
        """Apply ``changes`` to the job's Download and tell the listeners (progress at most
        once per ``progress_interval`` unless ``force``)."""
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
            total += size - kept_bytes(self.store.partial_for(repo_id, f.path), f)
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
            job = Job(download)
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
            wake(response)
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
        remove_partial(self.store.partial_for(d.repo_id, d.file.path))

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

    def _run(self, job: Job) -> None:
        self._update(job)
        try:
            FileTransfer(job, self.store, self.hub, self.options, self._update, self._lock).run()
        except Stop:
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
