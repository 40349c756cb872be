"""A GGUF from the store reaches Ollama by import through Ollama's blob and create API.

The server here speaks that API as Ollama's docs and server code describe it (HEAD/POST
/api/blobs/sha256:<hex> with a digest check, POST /api/create with ``files``); no Ollama image can
be pulled on these machines."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from paitui.domain.models.records import InstalledModel
from paitui.services.models.ollama_import import (
    OllamaImportError,
    import_cost,
    import_gguf,
    ollama_name,
)


class FakeOllama:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.models: dict[str, dict[str, str]] = {}
        self.posts = 0


def _handler(state: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, code: int, body: bytes = b"") -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding") == "chunked":
                out = b""
                while size := int(self.rfile.readline().strip(), 16):
                    out += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return out
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_HEAD(self) -> None:
            m = re.fullmatch(r"/api/blobs/(sha256:[0-9a-f]{64})", self.path)
            self._reply(200 if m and m.group(1) in state.blobs else 404)

        def do_POST(self) -> None:
            body = self._body()
            m = re.fullmatch(r"/api/blobs/(sha256:[0-9a-f]{64})", self.path)
            if m:
                state.posts += 1
                if "sha256:" + hashlib.sha256(body).hexdigest() != m.group(1):
                    return self._reply(400, b'{"error":"digest mismatch"}')
                state.blobs[m.group(1)] = body
                return self._reply(201)
            if self.path == "/api/create":
                req = json.loads(body)
                missing = [d for d in req["files"].values() if d not in state.blobs]
                if missing:
                    return self._reply(400, b'{"error":"blob not found"}')
                state.models[req["model"]] = req["files"]
                return self._reply(200, b'{"status":"success"}')
            self._reply(404)

    return Handler


@pytest.fixture
def ollama() -> Iterator[tuple[str, FakeOllama]]:
    state = FakeOllama()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def _model(tmp_path: Path, name: str, data: bytes, sha: str | None = None) -> InstalledModel:
    path = tmp_path / name
    path.write_bytes(data)
    digest = sha if sha is not None else hashlib.sha256(data).hexdigest()
    return InstalledModel("org/repo-GGUF", name, str(path), len(data), digest, "r", "d")


def test_a_gguf_is_imported_once_and_named_after_its_file(
    tmp_path: Path, ollama: tuple[str, FakeOllama]
) -> None:
    url, state = ollama
    data = b"GGUF" + bytes(range(256)) * 5000  # > one chunk
    model = _model(tmp_path, "Qwen2.5-0.5B-Instruct.Q4_K_M.gguf", data)
    name = ollama_name(model)
    assert name == "qwen2.5-0.5b-instruct.q4_k_m"
    sent: list[int] = []
    assert import_gguf(url, [model], name, on_bytes=sent.append) == name
    assert state.blobs[f"sha256:{model.sha256}"] == data
    assert state.models[name] == {model.path: f"sha256:{model.sha256}"}
    assert sum(sent) == len(data)
    # Again: Ollama has the blob, so nothing is sent twice.
    import_gguf(url, [model], name)
    assert state.posts == 1


def test_shards_travel_together(tmp_path: Path, ollama: tuple[str, FakeOllama]) -> None:
    url, state = ollama
    shards = [
        _model(tmp_path, f"big-0000{i}-of-00002.gguf", f"GGUF shard {i}".encode()) for i in (1, 2)
    ]
    assert ollama_name(shards[0]) == "big"
    import_gguf(url, shards, "big")
    assert sorted(state.models["big"]) == [s.path for s in shards]


def test_a_file_that_changed_since_download_is_refused(
    tmp_path: Path, ollama: tuple[str, FakeOllama]
) -> None:
    url, state = ollama
    model = _model(tmp_path, "m.gguf", b"GGUF new bytes", sha="a" * 64)
    with pytest.raises(OllamaImportError, match=r"Ollama refused m\.gguf: HTTP 400"):
        import_gguf(url, [model], "m")
    assert state.models == {}


def test_an_unverified_file_is_not_sent(tmp_path: Path, ollama: tuple[str, FakeOllama]) -> None:
    url, state = ollama
    model = _model(tmp_path, "m.gguf", b"GGUF", sha="")
    with pytest.raises(OllamaImportError, match="no verified sha256"):
        import_gguf(url, [model], "m")
    assert state.posts == 0


def test_ollama_not_running_says_what_to_do(tmp_path: Path) -> None:
    from tests.helpers import free_port

    model = _model(tmp_path, "m.gguf", b"GGUF")
    with pytest.raises(OllamaImportError, match="start the app and wait until it is ready"):
        import_gguf(f"http://127.0.0.1:{free_port()}", [model], "m", timeout=2)


def test_the_cost_is_known_before_anything_is_sent(tmp_path: Path) -> None:
    model = _model(tmp_path, "m.gguf", b"x" * 1000)
    cost = import_cost([model], tmp_path / "apps" / "ollama" / "models")
    assert (cost.final_bytes, cost.peak_bytes) == (1000, 2000)
    assert cost.free_bytes is not None and cost.free_bytes > 0 and cost.fits
