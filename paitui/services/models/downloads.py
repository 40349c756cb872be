"""Download model files into the store: queued, resumable, verified and atomic.

The public face of the download modules, each with one job: ``download_queue`` (jobs, states,
concurrency, listeners), ``file_transfer`` (one file's steps), ``transfer`` (HTTP: ranged GETs,
redirects, answers and their messages), ``partial_files`` (the on-disk protocol below),
``hashing`` (checksums as bytes arrive) and ``download_errors``.

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

from paitui.services.models.download_errors import DownloadError
from paitui.services.models.download_queue import DownloadManager, Listener
from paitui.services.models.file_transfer import DEBUG_KILL_ENV

__all__ = ["DEBUG_KILL_ENV", "DownloadError", "DownloadManager", "Listener"]
