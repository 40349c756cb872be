"""A local stand-in for the Hugging Face Hub: the protocol huggingface_hub 2.4 speaks, with faults.

Two threaded HTTP/1.1 servers on 127.0.0.1 (random ports): the "hub" answers the API and
``/{repo}/resolve/{rev}/{path}`` (200 + ETag for regular files, 302 to the "CDN" with
X-Linked-Etag / X-Linked-Size for LFS files), the "CDN" serves LFS blobs. Both honour
``Range: bytes=N-`` with 206 and Content-Range. Errors carry ``X-Error-Code`` like the hub.

Faults, set per file path: drop the connection after N bytes, serve wrong bytes, stall after N
bytes, throttle, ignore Range, announce a size other than the real one, answer the next requests
with given statuses (``HubServer.answer``: 429 with Retry-After, 503, 401/403 without an error
code...). A repo can claim another id in the API (``HubRepo.answer_id``) and list hostile file
names. Every request is recorded (method, path, headers, time) for assertions.

Run alone for benchmarks: ``python tests/models/hub_server.py --file org/repo:name:/path/to/file``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_THRESHOLD = 1024  # files at least this big are LFS (the real cut-off is 10 MB; small for tests)


@dataclass
class HubFile:
    """One file of a repo: bytes in memory or a file on disk."""

    path: str
    data: bytes | None = None
    disk: Path | None = None
    lfs: bool | None = None
    size: int = 0
    sha256: str = ""
    blob_id: str = ""

    def __post_init__(self) -> None:
        if self.data is not None:
            self.size = len(self.data)
            self.sha256 = hashlib.sha256(self.data).hexdigest()
            blob = hashlib.sha1(b"blob %d\x00" % self.size + self.data)
            self.blob_id = blob.hexdigest()
        elif self.disk is not None and not self.sha256:
            self.size = self.disk.stat().st_size
            sha = hashlib.sha256()
            with open(self.disk, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    sha.update(chunk)
            self.sha256 = sha.hexdigest()
            self.blob_id = hashlib.sha1(self.sha256.encode()).hexdigest()  # pointer id
        if self.lfs is None:
            self.lfs = self.size >= LFS_THRESHOLD

    def read(self, start: int, end: int) -> bytes:
        """Bytes [start, end)."""
        if self.data is not None:
            return self.data[start:end]
        assert self.disk is not None
        with open(self.disk, "rb") as fh:
            fh.seek(start)
            return fh.read(end - start)


@dataclass
class HubRepo:
    """A model repo at one commit."""

    repo_id: str
    files: dict[str, HubFile] = field(default_factory=dict)
    commit: str = ""
    tags: tuple[str, ...] = ()
    downloads: int = 0
    likes: int = 0
    gated: bool = False
    private: bool = False
    pipeline_tag: str | None = None
    library_name: str | None = None
    #: The id the API gives for this repo, when it lies (None: the real one).
    answer_id: str | None = None

    def __post_init__(self) -> None:
        if not self.commit:
            h = hashlib.sha1(self.repo_id.encode())
            for f in sorted(self.files.values(), key=lambda f: f.path):
                h.update(f.path.encode() + f.sha256.encode())
            self.commit = h.hexdigest()


@dataclass
class Faults:
    """Misbehaviour to inject, keyed by file path inside the repo."""

    #: Close the connection after this many body bytes, for this many requests.
    drop_after: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Serve these files with wrong bytes (same size).
    corrupt: set[str] = field(default_factory=set)
    #: Stop sending after this many bytes until ``release`` is set (or 60 s), for N requests.
    stall_after: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Bytes per second for all bodies (0 = as fast as possible).
    throttle: int = 0
    #: Answer ranged GETs with 200 and the full body.
    ignore_range: bool = False
    #: Announce this size (API and X-Linked-Size) instead of the real one.
    lie_size: dict[str, int] = field(default_factory=dict)
    #: Next answers per key (a file path, or "@api" for repo info): (status, headers), in order.
    answers: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class Recorded:
    """One request the servers saw."""

    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict[str, str]
    status: int = 0
    #: time.monotonic() when it was answered.
    time: float = 0.0


class HubServer:
    """The hub and its CDN, serving ``repos``; use as a context manager."""

    def __init__(self, repos: list[HubRepo] | None = None, token: str | None = None) -> None:
        self.repos: dict[str, HubRepo] = {r.repo_id: r for r in repos or ()}
        self.token = token
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.hub_port = 0
        self.cdn_port = 0

    # --- lifecycle ---

    def __enter__(self) -> HubServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on two random ports."""
        for role in ("hub", "cdn"):
            handler = type(f"{role}Handler", (_Handler,), {"hub": self, "role": role})
            srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            srv.daemon_threads = True
            t = threading.Thread(
                target=srv.serve_forever, args=(0.05,), name=f"fake-{role}", daemon=True
            )
            t.start()
            self._servers.append(srv)
            self._threads.append(t)
        self.hub_port = self._servers[0].server_address[1]
        self.cdn_port = self._servers[1].server_address[1]

    def stop(self) -> None:
        """Shut both servers down."""
        self.faults.release.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()

    @property
    def url(self) -> str:
        """The endpoint to give as HF_ENDPOINT."""
        return f"http://127.0.0.1:{self.hub_port}"

    def add(self, repo: HubRepo) -> HubRepo:
        """Add (or replace) a repo."""
        self.repos[repo.repo_id] = repo
        return repo

    def record(self, rec: Recorded) -> None:
        """Remember a request."""
        with self._lock:
            self.requests.append(rec)

    def answer(
        self, key: str, status: int, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``times`` requests for ``key`` (a file path, or "@api" for repo info)
        with ``status`` and ``headers`` and a JSON error body (no X-Error-Code unless given)."""
        with self._lock:
            queue = self.faults.answers.setdefault(key, [])
            queue.extend([(status, dict(headers or {}))] * times)

    def take_answer(self, key: str) -> tuple[int, dict[str, str]] | None:
        """The next injected answer for ``key``, if any (consumed)."""
        with self._lock:
            queue = self.faults.answers.get(key)
            return queue.pop(0) if queue else None

    def gets(self, path_part: str = "") -> list[Recorded]:
        """GET requests whose path contains ``path_part``."""
        with self._lock:
            return [r for r in self.requests if r.method == "GET" and path_part in r.path]


_RESOLVE = re.compile(r"^/(?:models/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_API_MODEL = re.compile(r"^/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?$")
_API_TREE = re.compile(r"^/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?$")
_API_PATHS = re.compile(r"^/api/models/([^/]+/[^/]+)/paths-info/([^/]+)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: HubServer
    role: str

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def handle(self) -> None:
        # The client went away (a cancel, a test's fault): not a server error.
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    # --- helpers ---

    def _record(self, status: int) -> None:
        self.hub.record(
            Recorded(
                self.role,
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                status,
                time.monotonic(),
            )
        )

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _error(
        self, status: int, code: str, message: str, extra: dict[str, str] | None = None
    ) -> None:
        self._json(
            {"error": message},
            status,
            {"X-Error-Code": code, "X-Error-Message": message, **(extra or {})},
        )

    def _injected(self, key: str) -> bool:
        """Send the next injected answer for ``key``; False when there is none."""
        answer = self.hub.take_answer(key)
        if answer is None:
            return False
        status, headers = answer
        self._json({"error": f"injected HTTP {status}"}, status, headers)
        return True

    def _authorized(self, repo: HubRepo) -> bool:
        if not (repo.gated or repo.private):
            return True
        return self.headers.get("Authorization") == f"Bearer {self.hub.token}"

    def _repo(self, repo_id: str) -> HubRepo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(401, "RepoNotFound", "Repository not found")
            return None
        if not self._authorized(repo):
            if repo.gated:
                self._error(401, "GatedRepo", "Access to this repo is restricted")
            else:
                self._error(401, "RepoNotFound", "Repository not found")
            return None
        return repo

    def _rev_ok(self, repo: HubRepo, rev: str) -> bool:
        if unquote(rev) in ("main", repo.commit):
            return True
        self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return False

    # --- verbs ---

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        m = _API_PATHS.match(urlsplit(self.path).path)
        if self.role != "hub" or not m:
            self._error(404, "NotFound", "not found")
            return
        repo = self._repo(m.group(1))
        if repo is None or not self._rev_ok(repo, m.group(2)):
            return
        paths = parse_qs(body).get("paths", [])
        self._json([self._tree_entry(repo.files[p]) for p in paths if p in repo.files])

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        if self.role == "cdn":
            self._cdn(path)
            return
        if path == "/api/models":
            self._search(query)
            return
        if path.startswith("/api/agent-harnesses"):
            self._error(404, "NotFound", "not found")
            return
        m = _API_TREE.match(path)
        if m:
            self._tree(m.group(1), m.group(2), m.group(3) or "", query)
            return
        m = _API_MODEL.match(path)
        if m:
            if not self._injected("@api"):
                self._info(m.group(1), m.group(2), query)
            return
        m = _RESOLVE.match(path)
        if m:
            if not self._injected(m.group(3)):
                self._resolve(m.group(1), m.group(2), m.group(3))
            return
        self._error(404, "NotFound", "not found")

    # --- API ---

    def _search(self, query: dict[str, list[str]]) -> None:
        text = (query.get("search") or [""])[0].lower()
        filters = query.get("filter", [])
        authors = query.get("author")
        author = authors[0] if authors else None
        found = [
            r
            for r in self.hub.repos.values()
            if text in r.repo_id.lower()
            and all(f in r.tags for f in filters)
            and (author is None or r.repo_id.split("/")[0] == author)
            and not r.private
        ]
        sort = (query.get("sort") or [""])[0]
        if sort in ("downloads", "likes"):
            found.sort(key=lambda r: getattr(r, sort), reverse=True)
        limit = int((query.get("limit") or ["1000"])[0])
        self._json([self._summary(r) for r in found[:limit]])

    def _summary(self, r: HubRepo) -> dict[str, Any]:
        return {
            "_id": r.commit[:24],
            "id": r.repo_id,
            "downloads": r.downloads,
            "likes": r.likes,
            "tags": list(r.tags),
            "pipeline_tag": r.pipeline_tag,
            "library_name": r.library_name,
            "gated": "auto" if r.gated else False,
            "private": r.private,
            "usedStorage": sum(f.size for f in r.files.values()),
            "lastModified": "2026-01-01T00:00:00.000Z",
            "createdAt": "2025-01-01T00:00:00.000Z",
        }

    def _info(self, repo_id: str, rev: str | None, query: dict[str, list[str]]) -> None:
        repo = self._repo(repo_id)
        if repo is None or (rev is not None and not self._rev_ok(repo, rev)):
            return
        blobs = (query.get("blobs") or [""])[0].lower() == "true"
        siblings = []
        for f in repo.files.values():
            s: dict[str, Any] = {"rfilename": f.path}
            size = self.hub.faults.lie_size.get(f.path, f.size)
            if blobs:
                s["blobId"] = f.blob_id
                s["size"] = 134 if f.lfs else size
                if f.lfs:
                    s["lfs"] = {"sha256": f.sha256, "size": size, "pointerSize": 134}
            siblings.append(s)
        summary = self._summary(repo)
        if repo.answer_id is not None:
            summary["id"] = repo.answer_id
        self._json({**summary, "sha": repo.commit, "siblings": siblings})

    def _tree_entry(self, f: HubFile) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": f.blob_id, "size": f.size, "path": f.path}
        if f.lfs:
            entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
        return entry

    def _tree(self, repo_id: str, rev: str, sub: str, query: dict[str, list[str]]) -> None:
        repo = self._repo(repo_id)
        if repo is None or not self._rev_ok(repo, rev):
            return
        recursive = (query.get("recursive") or [""])[0].lower() == "true"
        prefix = f"{sub.rstrip('/')}/" if sub else ""
        out: list[dict[str, Any]] = []
        dirs: set[str] = set()
        for f in sorted(repo.files.values(), key=lambda f: f.path):
            if not f.path.startswith(prefix):
                continue
            rest = f.path[len(prefix) :]
            parts = rest.split("/")
            for i in range(1, len(parts)):
                d = prefix + "/".join(parts[:i])
                if d not in dirs and (recursive or i == 1):
                    dirs.add(d)
                    out.append(
                        {
                            "type": "directory",
                            "oid": hashlib.sha1(d.encode()).hexdigest(),
                            "path": d,
                        }
                    )
            if recursive or len(parts) == 1:
                out.append(self._tree_entry(f))
        if sub and not out:
            self._error(
                404, "EntryNotFound", f"{sub} does not exist", {"X-Repo-Commit": repo.commit}
            )
            return
        self._json(out)

    # --- files ---

    def _resolve(self, repo_id: str, rev: str, path: str) -> None:
        repo = self._repo(repo_id)
        if repo is None or not self._rev_ok(repo, rev):
            return
        f = repo.files.get(path)
        if f is None:
            self._error(
                404, "EntryNotFound", f"{path} does not exist", {"X-Repo-Commit": repo.commit}
            )
            return
        common = {"X-Repo-Commit": repo.commit, "Accept-Ranges": "bytes"}
        if f.lfs:
            location = f"http://127.0.0.1:{self.hub.cdn_port}/repos/{repo.repo_id}/{f.sha256}?path={quote(path)}"
            self._send(
                302,
                b"",
                {
                    **common,
                    "Location": location,
                    "ETag": f'"{f.blob_id}"',
                    "X-Linked-Etag": f'"{f.sha256}"',
                    "X-Linked-Size": str(self.hub.faults.lie_size.get(f.path, f.size)),
                },
            )
            return
        self._body(f, {**common, "ETag": f'"{f.blob_id}"'})

    def _cdn(self, path: str) -> None:
        m = re.match(r"^/repos/([^/]+/[^/]+)/([0-9a-f]{64})$", path)
        repo = self.hub.repos.get(m.group(1)) if m else None
        f = next(
            (f for f in (repo.files.values() if repo else ()) if m and f.sha256 == m.group(2)), None
        )
        if f is None:
            self._send(404, b"NoSuchKey", content_type="text/plain")
            return
        if self._injected(f.path):
            return
        self._body(f, {"ETag": f'"{f.sha256}"', "Accept-Ranges": "bytes"})

    def _body(self, f: HubFile, headers: dict[str, str]) -> None:
        faults = self.hub.faults
        start, end = 0, f.size
        status = 200
        rng = self.headers.get("Range")
        if rng and not faults.ignore_range:
            m = re.match(r"^bytes=(\d+)-(\d*)$", rng.strip())
            if m:
                start = int(m.group(1))
                if m.group(2):
                    end = min(f.size, int(m.group(2)) + 1)
                if start >= f.size:
                    self._send(416, b"", {**headers, "Content-Range": f"bytes */{f.size}"})
                    return
                status = 206
                headers = {**headers, "Content-Range": f"bytes {start}-{end - 1}/{f.size}"}
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        self._stream(f, start, end)

    def _take(self, table: dict[str, tuple[int, int]], path: str) -> int | None:
        with self.hub._lock:
            entry = table.get(path)
            if not entry or entry[1] <= 0:
                return None
            table[path] = (entry[0], entry[1] - 1)
            return entry[0]

    def _stream(self, f: HubFile, start: int, end: int) -> None:
        faults = self.hub.faults
        drop = self._take(faults.drop_after, f.path)
        stall = self._take(faults.stall_after, f.path)
        corrupt = f.path in faults.corrupt
        sock: socket.socket = self.connection
        if (
            f.disk is not None
            and drop is None
            and stall is None
            and not corrupt
            and not faults.throttle
        ):
            with open(f.disk, "rb") as fh:
                sock.sendfile(fh, start, end - start)
            return
        pos = start
        sent = 0
        chunk = 64 * 1024
        began = time.monotonic()
        while pos < end:
            n = min(chunk, end - pos)
            if drop is not None and sent + n > drop:
                n = drop - sent
            if stall is not None and sent + n > stall:
                n = stall - sent
            data = f.read(pos, pos + n)
            if corrupt:
                data = bytes(b ^ 0x5A for b in data)
            if data:
                self.wfile.write(data)
                self.wfile.flush()
            pos += n
            sent += n
            if drop is not None and sent >= drop:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                return
            if stall is not None and sent >= stall:
                faults.release.wait(60)
                self.close_connection = True
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                return
            if faults.throttle:
                due = began + sent / faults.throttle
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing the server, not synchronising the test


def make_repo(repo_id: str, files: dict[str, bytes], **kw: Any) -> HubRepo:
    """A repo from ``{path: bytes}``."""
    return HubRepo(repo_id, {p: HubFile(p, data=d) for p, d in files.items()}, **kw)


def main() -> None:
    """Serve files from disk until interrupted (for benchmarks)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", action="append", default=[], help="org/repo:name:/path")
    parser.add_argument("--ready-file", help="write the endpoint URL here once listening")
    args = parser.parse_args()
    repos: dict[str, HubRepo] = {}
    for spec in args.file:
        repo_id, name, disk = spec.split(":", 2)
        repos.setdefault(
            repo_id, HubRepo(repo_id, commit=hashlib.sha1(repo_id.encode()).hexdigest())
        )
        repos[repo_id].files[name] = HubFile(name, disk=Path(disk))
    with HubServer(list(repos.values())) as server:
        if args.ready_file:
            Path(args.ready_file).write_text(server.url)
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    os._exit(0)


if __name__ == "__main__":
    main()
