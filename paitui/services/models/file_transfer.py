"""One file's download, from the partial data kept to the verified file in the store, in named
steps: adopt a file already there, open the partial, fetch (with retries), verify, install."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict, Unpack

from paitui.domain.models.records import Download, DownloadState, RetryPolicy, human_size
from paitui.services.models.download_errors import DownloadError, Refused, Stop, Transient
from paitui.services.models.hashing import Hashes, hash_file
from paitui.services.models.hub import HubConfig
from paitui.services.models.partial_files import PartialFile, prune_partial_dirs, remove_partial
from paitui.services.models.store import ModelStore
from paitui.services.models.transfer import (
    accepted_offset,
    give_up_message,
    open_ranged,
    status_reason,
    why,
)

if TYPE_CHECKING:
    import httpx

#: Tests only: ``PAITUI_DEBUG_KILL_AT=installed`` makes the process SIGKILL itself right after a
#: file is renamed into place and before it is recorded; ``verified``: just before the rename
#: (unset: never).
DEBUG_KILL_ENV = "PAITUI_DEBUG_KILL_AT"


def _debug_kill(point: str) -> None:
    if os.environ.get(DEBUG_KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Job:
    """Mutable state of one download; ``download`` is its latest frozen snapshot."""

    download: Download
    stop: threading.Event = field(default_factory=threading.Event)
    #: What the user asked for when stopping: PAUSED or CANCELLED.
    stop_as: DownloadState = DownloadState.CANCELLED
    thread: threading.Thread | None = None
    response: httpx.Response | None = None
    last_emit: float = 0.0
    done_event: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class TransferOptions:
    """How a transfer reads, retries, checkpoints and reports."""

    read_timeout: float
    retry: RetryPolicy
    chunk_size: int
    checkpoint_interval: float
    progress_interval: float


class DownloadChanges(TypedDict, total=False):
    """The fields of a ``Download`` a running transfer changes."""

    state: DownloadState
    bytes_done: int
    speed: float
    error: str | None
    resumed_from: int


class Update(Protocol):
    """``update(job, force=..., **changes)``: apply changes to the job's Download, tell the
    listeners."""

    def __call__(
        self, job: Job, *, force: bool = True, **changes: Unpack[DownloadChanges]
    ) -> None: ...


class _Speed:
    """Bytes per second over windows of ``interval`` seconds, smoothed across windows."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.value = 0.0
        self.restart()

    def restart(self) -> None:
        self._start, self._bytes = time.monotonic(), 0

    def feed(self, n: int) -> bool:
        """Count ``n`` bytes; True when a window closed and ``value`` is new."""
        self._bytes += n
        now = time.monotonic()
        if now - self._start < self.interval:
            return False
        rate = self._bytes / (now - self._start)
        self.value = rate if self.value == 0 else 0.7 * self.value + 0.3 * rate
        self._start, self._bytes = now, 0
        return True


class FileTransfer:
    """Downloads one job's file into the store; ``run`` raises Stop or DownloadError."""

    def __init__(
        self,
        job: Job,
        store: ModelStore,
        hub: HubConfig,
        options: TransferOptions,
        update: Update,
        lock: threading.RLock,
    ) -> None:
        self.job = job
        self.d = job.download
        self.store = store
        self.hub = hub
        self.options = options
        self._update = update
        self._lock = lock  # guards job.response, which another thread wakes on a stop
        #: Chunks received over all attempts (a failure after progress starts a new count).
        self._chunks = 0

    def update(self, *, force: bool = True, **changes: Unpack[DownloadChanges]) -> None:
        self._update(self.job, force=force, **changes)

    def run(self) -> None:
        """Adopt, or fetch, verify and install the file; the job ends DONE."""
        d, f = self.d, self.d.file
        if self.hub.offline:
            raise DownloadError("offline: HF_HUB_OFFLINE is set (unset it to download)")
        part = self.store.partial_for(d.repo_id, f.path)
        target = Path(d.target)
        url = self.hub.resolve_url(d.repo_id, d.revision, f.path)
        if self._already_there(target):
            return
        partial = PartialFile.open(part, d, url, self.store.root)
        try:
            size, digest = self._fetch_verified(partial, url)
            self._install(partial, target, size, digest)
        finally:
            partial.close()
        prune_partial_dirs(part.parent, self.store.partial_root)
        self.update(state=DownloadState.DONE, bytes_done=size, speed=0.0)

    # --- steps ---------------------------------------------------------------------------------

    def _already_there(self, target: Path) -> bool:
        """Record the file at ``target`` if the index lost it (a damaged index, a file put back)
        and it is byte for byte the hub's file: hashed against the hub's checksum, not fetched."""
        d, f = self.d, self.d.file
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
        self.update(state=DownloadState.VERIFYING, bytes_done=0, speed=0.0)
        try:
            hashes = hash_file(target, f, self.options.chunk_size * 4, self.job.stop)
        except OSError:
            return False
        if hashes.mismatch(f, f.size) is not None:
            return False
        digest = hashes.sha256.hexdigest()
        self.store.record(d.repo_id, f.path, size=f.size, sha256=digest, revision=d.revision)
        self.update(state=DownloadState.DONE, bytes_done=f.size, speed=0.0)
        return True

    def _fetch_verified(self, partial: PartialFile, url: str) -> tuple[int, str]:
        """Hash the kept prefix, fetch the rest and check it; returns (size, sha256)."""
        hashes = Hashes(self.d.file)
        try:
            offset = partial.offset
            partial.rehash(offset, hashes, self.options.chunk_size * 4, self.job.stop)
            self.update(bytes_done=offset, resumed_from=offset)
            try:
                offset = self._fetch(partial, url, hashes)
            except Refused:
                remove_partial(partial.part)
                raise
            hashes.wait()
            self._verify(partial, offset, hashes)
        finally:
            hashes.close()
        return offset, hashes.sha256.hexdigest()

    def _fetch(self, partial: PartialFile, url: str, hashes: Hashes) -> int:
        """GET the file from the kept offset until it is whole, retrying dropped links and
        retryable answers with backoff; returns the bytes now held."""
        import httpx

        size = self.d.file.size
        offset = partial.offset
        partial.checkpoint(offset)
        timeout = httpx.Timeout(connect=15.0, read=self.options.read_timeout, write=15.0, pool=15.0)
        failures = 0
        since = time.monotonic()  # when the current run of failures (without progress) began
        speed = _Speed(self.options.progress_interval)
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=True) as client:
            while True:
                if size is not None and offset >= size:
                    return offset
                self._stop_if_asked(partial, offset)
                before = self._chunks
                try:
                    return self._attempt(client, partial, url, hashes, speed)
                except Transient as exc:
                    status: int | None = exc.status
                    retry_after = exc.retry_after
                    reason, stalled = status_reason(exc.status), False
                except (httpx.TransportError, OSError) as exc:
                    if isinstance(exc, OSError) and not isinstance(exc, ConnectionError):
                        raise
                    status, retry_after = None, None
                    reason, stalled = why(exc), isinstance(exc, httpx.TimeoutException)
                offset = partial.offset
                partial.checkpoint(offset)
                if self.job.stop.is_set():
                    raise Stop from None
                now = time.monotonic()
                if self._chunks > before:  # it moved on before failing: a new run of failures
                    failures, since = 0, now
                failures += 1
                self._back_off(offset, failures, now - since, status, retry_after, reason, stalled)

    def _attempt(
        self,
        client: httpx.Client,
        partial: PartialFile,
        url: str,
        hashes: Hashes,
        speed: _Speed,
    ) -> int:
        """One GET from the kept offset; returns the bytes held once the body is whole, raises
        ``RemoteProtocolError`` for a body that ended early (retried like a dropped link)."""
        import httpx

        size = self.d.file.size
        offset = partial.offset
        response = open_ranged(client, self.hub, url, offset)
        with self._lock:
            self.job.response = response
        try:
            start = accepted_offset(response, offset, self.d, self.hub)
            if start != offset:
                partial.restart()
                hashes.reset()
            offset = self._receive(response, partial, start, hashes, speed)
        finally:
            response.close()
            with self._lock:
                self.job.response = None
        self._stop_if_asked(partial, offset)
        partial.checkpoint(offset)
        if size is None or offset >= size:
            return offset
        raise httpx.RemoteProtocolError("the server ended the body early")

    def _receive(
        self,
        response: httpx.Response,
        partial: PartialFile,
        offset: int,
        hashes: Hashes,
        speed: _Speed,
    ) -> int:
        """Write and hash the body from ``offset``, checkpointing and reporting as it comes;
        returns the bytes held when the body ends or a stop is asked for. A failure keeps the
        last checkpoint in ``partial.offset``."""
        d, size = self.d, self.d.file.size
        last_check = time.monotonic()
        speed.restart()
        # No chunk_size: every network read is kept, so a drop loses nothing.
        try:
            for chunk in response.iter_raw():
                if self.job.stop.is_set():
                    break
                if size is not None and offset + len(chunk) > size:
                    raise Refused(
                        f"{d.id}: the hub sent more than the {size} bytes it "
                        "announced; the data was removed (pull again to retry)"
                    )
                partial.write(chunk, offset)
                hashes.update(chunk)
                offset += len(chunk)
                self._chunks += 1
                if speed.feed(len(chunk)):
                    self.update(force=False, bytes_done=offset, speed=speed.value)
                if time.monotonic() - last_check >= self.options.checkpoint_interval:
                    partial.checkpoint(offset)
                    last_check = time.monotonic()
        except (Refused, DownloadError):
            raise
        except Exception:
            partial.checkpoint(offset)  # keep what arrived before the link dropped
            raise
        return offset

    def _stop_if_asked(self, partial: PartialFile, offset: int) -> None:
        if self.job.stop.is_set():
            partial.checkpoint(offset)
            raise Stop

    def _back_off(
        self,
        offset: int,
        failures: int,
        failing_for: float,
        status: int | None,
        retry_after: float | None,
        reason: str,
        stalled: bool,
    ) -> None:
        """Wait before the next try, or give up with a message once the policy says so."""
        retry = self.options.retry
        wait = retry.delay(failures, retry_after)
        gave_up = retry.gives_up(failures, failing_for, wait, retry_after)
        if gave_up is not None:
            raise DownloadError(
                give_up_message(self.d, status, reason, gave_up, failures, stalled)
                + f"; {human_size(offset)} kept, pull again to continue"
            )
        self.update(
            bytes_done=offset,
            speed=0.0,
            error=f"{reason}: retrying in {wait:.1f}s (try {failures + 1} of {retry.attempts + 1})",
        )
        if self.job.stop.wait(wait):
            raise Stop from None
        self.update(error=None)

    def _verify(self, partial: PartialFile, offset: int, hashes: Hashes) -> None:
        """Refuse (and delete) data that is not the hub's file."""
        self.update(state=DownloadState.VERIFYING, bytes_done=offset, speed=0.0)
        problem = hashes.mismatch(self.d.file, offset)
        if problem:
            remove_partial(partial.part)
            raise DownloadError(
                f"{self.d.id}: {problem}; the corrupt data was removed (pull again to retry)"
            )

    def _install(self, partial: PartialFile, target: Path, size: int, digest: str) -> None:
        """Seal, rename into place and record; the sidecar goes once the index has the file."""
        d = self.d
        partial.seal(size, digest)
        _debug_kill("verified")
        partial.install(target)
        _debug_kill("installed")
        try:
            self.store.record(d.repo_id, d.file.path, size=size, sha256=digest, revision=d.revision)
        except OSError as exc:
            # The sidecar stays: the store adopts the file once it can write its index.
            raise DownloadError(
                f"{d.id}: verified and installed, but the store's index could not be "
                f"written ({exc.strerror or exc}); it is picked up at the next listing"
            ) from None
        partial.forget()
