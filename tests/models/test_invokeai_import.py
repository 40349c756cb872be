"""Store models reach InvokeAI by in-place registration through its install API.

The server here speaks that API as InvokeAI's router describes it (``POST
/api/v2/models/install?source=&inplace=`` answering 201 with a job, 409 for a path already
there, 415 for no model; ``GET /api/v2/models/install/<id>`` with the job's status;
``GET /api/v2/models/`` listing records with their ``path``); no InvokeAI image can be pulled
on these machines."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from paitui.domain.models.records import InstalledModel
from paitui.services.models.invokeai_import import (
    InvokeImportError,
    install_sources,
    register_in_place,
)


class FakeInvoke:
    def __init__(self) -> None:
        self.models: list[dict[str, str]] = []
        self.jobs: dict[int, dict[str, object]] = {}
        self.installs: list[tuple[str, str, dict[str, object]]] = []
        self.polls_to_finish = 2  # a job runs for this many polls before it ends
        self.fail: set[str] = set()  # sources whose job ends in error
        self.unknown: set[str] = set()  # sources answered 415
        self.hidden: set[str] = set()  # registered, but left out of the listing


def _handler(state: FakeInvoke) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, code: int, body: object = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/api/v2/models/":
                shown = [m for m in state.models if m["path"] not in state.hidden]
                return self._reply(200, {"models": shown})
            if url.path.startswith("/api/v2/models/install/"):
                job = state.jobs.get(int(url.path.rsplit("/", 1)[1]))
                if job is None:
                    return self._reply(404, {"detail": "no such job"})
                left = int(str(job["left"])) - 1
                job["left"] = left
                if left <= 0 and job["status"] == "running":
                    source = str(job["source"])
                    if source in state.fail:
                        job.update(status="error", error_type="InvalidModelConfigException",
                                   error="cannot determine model type")  # fmt: skip
                    else:
                        name = Path(source).stem
                        state.models.append({"path": source, "name": name})
                        job.update(status="completed", config_out={"name": name})
                return self._reply(200, {k: v for k, v in job.items() if k != "left"})
            self._reply(404)

        def do_POST(self) -> None:
            url = urlparse(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            if url.path != "/api/v2/models/install":
                return self._reply(404)
            query = parse_qs(url.query)
            source, inplace = query["source"][0], query.get("inplace", ["false"])[0]
            state.installs.append((source, inplace, body))
            if source in state.unknown:
                return self._reply(415)
            if any(m["path"] == source for m in state.models):
                return self._reply(409, {"detail": "already installed"})
            job_id = len(state.jobs) + 1
            state.jobs[job_id] = {
                "id": job_id, "source": source, "status": "running",
                "left": state.polls_to_finish,
            }  # fmt: skip
            self._reply(201, {"id": job_id, "source": source, "status": "waiting"})

    return Handler


@pytest.fixture
def invoke() -> Iterator[tuple[str, FakeInvoke]]:
    state = FakeInvoke()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def _m(repo: str, path: str, kind: str = "") -> InstalledModel:
    return InstalledModel(repo, path, f"/store/{repo}/{path}", 1, "0" * 64, "r", "d", kind=kind)


def test_a_diffusers_repo_is_one_model_and_other_repos_one_per_image_file() -> None:
    pipe = [_m("o/pipe", "model_index.json"), _m("o/pipe", "unet/d.safetensors", "checkpoint")]
    assert install_sources(pipe, pipe, "/mnt/models") == ["/mnt/models/o/pipe"]
    mixed = [
        _m("o/mix", "a.safetensors", "lora"), _m("o/mix", "README.md"),
        _m("o/mix", "llm.gguf", "llm"), _m("o/mix", "b.ckpt", "checkpoint"),
    ]  # fmt: skip
    assert install_sources(mixed, mixed, "/mnt/models") == [
        "/mnt/models/o/mix/a.safetensors",
        "/mnt/models/o/mix/b.ckpt",
    ]
    # One file named: that file, whatever its type (InvokeAI decides); a README: nothing.
    assert install_sources(mixed, mixed[2:3], "/m") == ["/m/o/mix/llm.gguf"]
    assert install_sources(mixed, mixed[1:2], "/m") == []
    # One file of a pipeline named: that file, not the whole folder.
    assert install_sources(pipe, pipe[1:], "/m") == ["/m/o/pipe/unet/d.safetensors"]


def test_sources_are_registered_in_place_once(invoke: tuple[str, FakeInvoke]) -> None:
    url, state = invoke
    sources = ["/mnt/models/o/a/x.safetensors", "/mnt/models/o/pipe"]
    seen: list[str] = []
    done = register_in_place(url, sources, poll_s=0.01, on_source=seen.append)
    assert [(r.source, r.outcome, r.name) for r in done] == [
        (sources[0], "registered", "x"),
        (sources[1], "registered", "pipe"),
    ]
    assert [(s, i) for s, i, _ in state.installs] == [(s, "true") for s in sources]
    assert seen == sources
    # Again: InvokeAI lists them already, so nothing is sent.
    again = register_in_place(url, sources, poll_s=0.01)
    assert [r.outcome for r in again] == ["already", "already"]
    assert len(state.installs) == 2
    # A name applies to a single source only.
    register_in_place(url, ["/mnt/models/o/b/y.safetensors"], name="Mine", poll_s=0.01)
    assert state.installs[-1][2] == {"name": "Mine"}


def test_a_path_registered_meanwhile_counts_as_there(invoke: tuple[str, FakeInvoke]) -> None:
    url, state = invoke
    source = "/mnt/models/o/a/x.safetensors"
    state.models.append({"path": source})
    state.hidden.add(source)  # registered after the listing was read: the install says 409
    done = register_in_place(url, [source], poll_s=0.01)
    assert done[0].outcome == "already" and [s for s, _, _ in state.installs] == [source]


def test_failures_say_what_and_keep_what_was_done(invoke: tuple[str, FakeInvoke]) -> None:
    url, state = invoke
    good, bad, odd = "/mnt/models/o/a/ok.safetensors", "/mnt/models/o/a/bad.bin", "/m/o/x.txt"
    state.fail.add(bad)
    with pytest.raises(InvokeImportError, match=r"could not register .*bad.bin: cannot determine"):
        register_in_place(url, [good, bad], poll_s=0.01)
    assert [m["path"] for m in state.models] == [good]  # the first stays registered
    state.unknown.add(odd)
    with pytest.raises(InvokeImportError, match=r"does not recognise /m/o/x\.txt"):
        register_in_place(url, [odd], poll_s=0.01)
    with pytest.raises(InvokeImportError, match="nothing to register"):
        register_in_place(url, [])


def test_a_job_that_does_not_end_in_time_is_said_so(invoke: tuple[str, FakeInvoke]) -> None:
    url, state = invoke
    state.polls_to_finish = 10**6
    with pytest.raises(InvokeImportError, match=r"still registering .* Model Manager"):
        register_in_place(url, ["/m/o/slow.safetensors"], wait_s=0.2, poll_s=0.01)


def test_invokeai_not_running_says_what_to_do() -> None:
    from tests.helpers import free_port

    with pytest.raises(InvokeImportError, match=r"cannot reach InvokeAI.*start the app"):
        register_in_place(f"http://127.0.0.1:{free_port()}", ["/m/x.safetensors"], timeout=2)
