"""``paitui start APP --model REPO[:FILE]`` pulls first, then starts; ``paitui models import``
sends a store GGUF to a running app-store app. Real ``paitui`` processes, the local Hub server,
the real engine with busybox stand-ins (an Ollama API stand-in on the host behind a forwarder in
the managed container, since no Ollama image can be pulled here)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.helpers import free_port, wait_until
from tests.models.conftest import GGUF_Q4, GGUF_Q8
from tests.models.hub_server import HubServer, make_repo
from tests.models.test_ollama_import import FakeOllama, _handler
from tests.status.standins import remove_containers

pytestmark = pytest.mark.docker


def _catalog(folder: Path, label: str, image: str, gateway: str, ollama_port: int) -> Path:
    # The LLM stand-in prints its model's md5 and size, then serves; braces doubled for {model}.
    text = f"""apps:
  - id: llm-{label}
    name: LLM stand-in
    description: busybox stand-in reading one GGUF by argument
    kind: other
    variants:
      cpu: {{image: "{image}"}}
    ports:
      - container: 8080
        purpose: Stand-in web UI
        links: [{{label: Web UI, path: /, kind: ui}}]
    health: {{type: tcp, start_period_s: 30}}
    needs: {{model_file: [gguf]}}
    mounts:
      models: {{path: /models, formats: [gguf]}}
    command:
      - sh
      - -c
      - |
        trap 'exit 0' TERM
        echo "model $(busybox md5sum < {{model}} | cut -c1-32) $(wc -c < {{model}})"
        httpd -f -p 8080 -h / &
        wait
  - id: mm-{label}
    name: Multimodal LLM stand-in
    description: busybox stand-in reading the GGUF and the projector its command line names
    kind: other
    variants:
      cpu: {{image: "{image}"}}
    ports:
      - container: 8080
        purpose: Stand-in web UI
        links: [{{label: Web UI, path: /, kind: ui}}]
    health: {{type: tcp, start_period_s: 30}}
    needs: {{model_file: [gguf]}}
    mounts:
      models: {{path: /models, formats: [gguf], projector_arg: --mmproj}}
    command:
      - sh
      - -c
      - |
        trap 'exit 0' TERM
        echo "read $(basename $2) $(busybox md5sum < $2 | cut -c1-32) $3" \
          "$(basename $4) $(busybox md5sum < $4 | cut -c1-32)"
        httpd -f -p 8080 -h / &
        wait
      - app
      - -m
      - "{{model}}"
  - id: repo-{label}
    name: Repo stand-in
    description: busybox stand-in reading a whole repo from its HF cache view
    kind: other
    variants:
      cpu: {{image: "{image}"}}
    ports:
      - container: 8080
        purpose: Stand-in web UI
        links: [{{label: Web UI, path: /, kind: ui}}]
    health: {{type: tcp, start_period_s: 30}}
    needs: {{hf_repo: true}}
    mounts:
      models:
        path: /mnt/models
        formats: [hf-repo, diffusers]
        layout: hf-cache
        env: {{HF_HUB_CACHE: "{{models_hf_cache}}"}}
    command:
      - sh
      - -c
      - |
        trap 'exit 0' TERM
        repo=$HF_HUB_CACHE/models--$(echo {{model_id}} | sed 's|/|--|')
        cd $repo/snapshots/$(cat $repo/refs/main) && echo files $(busybox find -L . -type f | sort)
        httpd -f -p 8080 -h / &
        wait
  - id: store-{label}
    name: Ollama stand-in
    description: forwards its API port to the Ollama API stand-in on the host
    kind: other
    variants:
      cpu: {{image: "{image}"}}
    ports:
      - container: 11434
        purpose: Ollama API
        links: [{{label: API, path: /, kind: api}}]
    health: {{type: tcp, start_period_s: 30}}
    mounts:
      models: {{path: /mnt/models, formats: [gguf], layout: app-store}}
      data: {{path: /root/.ollama}}
    command:
      - sh
      - -c
      - |
        trap 'exit 0' TERM
        nc -ll -p 11434 -e nc {gateway} {ollama_port} &
        wait
"""
    path = folder / f"catalog-{label}.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def ollama_host(docker_client: Any) -> Iterator[tuple[str, int, FakeOllama]]:
    """The Ollama API stand-in on the host, where containers on the default bridge reach it."""
    gateway = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    state = FakeOllama()
    server = ThreadingHTTPServer((gateway, 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gateway, int(server.server_address[1]), state
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(
    hub_server: HubServer,
    tmp_path: Path,
    test_label: str,
    busybox_image: str,
    docker_client: Any,
    ollama_host: tuple[str, int, FakeOllama],
) -> Iterator[dict[str, str]]:
    hub_server.add(
        make_repo(
            "acme/split",
            {
                "m-00001-of-00002.gguf": GGUF_Q4[:1000],
                "m-00002-of-00002.gguf": GGUF_Q4[1000:2500],
                "mmproj-f16.gguf": GGUF_Q8[:700],
            },
        )
    )
    gateway, port, _state = ollama_host
    catalog = _catalog(tmp_path, test_label, busybox_image, gateway, port)
    out = {
        **os.environ,
        "PAITUI_CATALOG": str(catalog),
        "HF_ENDPOINT": hub_server.url,
        "HF_HOME": str(tmp_path / "hf-home"),
        "PAITUI_STATE_DIR": str(tmp_path / "state"),
        "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
        "PAITUI_PROBE_START_INTERVAL": "0.2",
        "PYTHONPATH": str(REPO_ROOT),
    }
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "SSH_CONNECTION", "SSH_TTY"):
        out.pop(var, None)
    yield out
    remove_containers(docker_client, test_label)


def _run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        env=env, text=True, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _containers(docker_client: Any, label: str) -> list[Any]:
    return [c for c in docker_client.containers.list(all=True) if c.name.endswith(label)]


def test_start_pulls_the_named_file_then_the_app_reads_it(
    env: dict[str, str], hub_server: HubServer, test_label: str, docker_client: Any
) -> None:
    app = f"llm-{test_label}"
    port = str(free_port())
    done = _run(env, "start", app, "--model", "acme/tiny-gguf:*Q4_K_M*", "--port", port, "--json")
    assert done.returncode == 0, done.stderr
    assert "acme/tiny-gguf:*Q4_K_M* is not installed: pulling it first" in done.stderr
    assert "tiny.Q4_K_M.gguf: done, verified" in done.stderr  # the pull's own lines
    assert json.loads(done.stdout)["app"] == app  # stdout stays the JSON answer
    store = Path(env["PAITUI_STATE_DIR"]) / "models"
    assert (store / "acme/tiny-gguf/tiny.Q4_K_M.gguf").read_bytes() == GGUF_Q4
    assert not (store / "acme/tiny-gguf/tiny.Q8_0.gguf").exists()
    (container,) = _containers(docker_client, test_label)
    want = f"model {hashlib.md5(GGUF_Q4).hexdigest()} {len(GGUF_Q4)}"
    wait_until(lambda: want in container.logs().decode(), timeout=30, what="the model read")
    # Again: installed now, so no download; the Hub is not asked for the file.
    assert _run(env, "stop", app).returncode == 0
    hub_server.requests.clear()
    again = _run(env, "start", app, "--model", "acme/tiny-gguf:*Q4_K_M*", "--port", port)
    assert again.returncode == 0, again.stderr
    assert "pulling it first" not in again.stderr and hub_server.requests == []


def test_several_matches_or_a_failed_pull_start_nothing(
    env: dict[str, str], hub_server: HubServer, test_label: str, docker_client: Any
) -> None:
    app = f"llm-{test_label}"
    many = _run(env, "start", app, "--model", "acme/tiny-gguf")
    assert many.returncode == 1
    assert (
        "2 gguf models in acme/tiny-gguf: tiny.Q4_K_M.gguf (2.0 MB), tiny.Q8_0.gguf (3.5 MB)"
        in (many.stderr)
    )
    assert "--model acme/tiny-gguf:FILE" in many.stderr
    gated = _run(env, "start", app, "--model", "acme/gated:gated.gguf")
    assert gated.returncode == 1 and "gated" in gated.stderr
    absent = _run(env, "start", app, "--model", "acme/tiny-gguf:*Q2_K*")
    assert absent.returncode == 1 and "no gguf file of acme/tiny-gguf matches" in absent.stderr
    for done in (many, gated, absent):
        assert "Traceback" not in done.stderr
    assert hub_server.gets("/resolve/") == []  # nothing was downloaded
    assert _containers(docker_client, test_label) == []  # and nothing started
    # A pull that fails (the Hub serves bytes that do not match its checksum) starts nothing.
    hub_server.faults.corrupt.add("tiny.Q8_0.gguf")
    failed = _run(env, "start", app, "--model", "acme/tiny-gguf:tiny.Q8_0.gguf")
    assert failed.returncode != 0 and "not started: the pull of" in failed.stderr
    assert _containers(docker_client, test_label) == []


def test_a_split_model_is_pulled_whole_and_imported_with_its_projector(
    env: dict[str, str],
    test_label: str,
    ollama_host: tuple[str, int, FakeOllama],
) -> None:
    _gateway, _port, state = ollama_host
    app = f"store-{test_label}"
    pulled = _run(env, "models", "pull", "acme/split")
    assert pulled.returncode == 0, pulled.stderr
    # Not running yet: said clearly, nothing sent.
    early = _run(env, "models", "import", app, "acme/split/m-00001-of-00002.gguf", "--yes")
    assert early.returncode == 1 and f"{app} is not running" in early.stderr
    assert f"paitui start {app}" in early.stderr and state.posts == 0
    assert _run(env, "start", app, "--port", str(free_port())).returncode == 0
    # Without --yes and without a terminal: the cost is said, nothing is sent.
    asked = _run(env, "models", "import", app, "acme/split/m-00002-of-00002.gguf")
    assert asked.returncode == 1 and "add --yes to confirm" in asked.stderr
    assert "3 file(s) of acme/split" in asked.stderr and "free in" in asked.stderr
    assert state.posts == 0
    done = _run(env, "models", "import", app, "acme/split/m-00002-of-00002.gguf", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    files = ["m-00001-of-00002.gguf", "m-00002-of-00002.gguf", "mmproj-f16.gguf"]
    assert answer["files"] == files and answer["name"] == "m"
    assert answer["bytes"] == 1000 + 1500 + 700 and answer["peak_bytes"] == 2 * answer["bytes"]
    assert sorted(state.models["m"]) == files
    blobs = {hashlib.sha256(b).hexdigest() for b in (GGUF_Q4[:1000], GGUF_Q4[1000:2500])}
    assert {d.removeprefix("sha256:") for d in state.blobs} >= blobs


def test_start_pulls_every_shard_and_the_projector_and_passes_shard_one(
    env: dict[str, str], test_label: str, docker_client: Any
) -> None:
    app = f"mm-{test_label}"
    named = "acme/split:m-00002-of-00002.gguf"  # any shard names the set
    done = _run(env, "start", app, "--model", named, "--port", str(free_port()))
    assert done.returncode == 0, done.stderr
    store = Path(env["PAITUI_STATE_DIR"]) / "models" / "acme/split"
    assert sorted(p.name for p in store.iterdir()) == [
        "m-00001-of-00002.gguf", "m-00002-of-00002.gguf", "mmproj-f16.gguf"
    ]  # fmt: skip
    (container,) = _containers(docker_client, test_label)
    want = (
        f"read m-00001-of-00002.gguf {hashlib.md5(GGUF_Q4[:1000]).hexdigest()} --mmproj "
        f"mmproj-f16.gguf {hashlib.md5(GGUF_Q8[:700]).hexdigest()}"
    )
    wait_until(lambda: want in container.logs().decode(), timeout=30, what="both files read")
    # run-cmd shows the same line; --no-projector leaves the projector out.
    line = _run(env, "run-cmd", app, "--model", named, "--json", "--no-hw")
    argv = json.loads(line.stdout)["argv"]
    assert argv[-3:] == ["/models/acme/split/m-00001-of-00002.gguf", "--mmproj",
                         "/models/acme/split/mmproj-f16.gguf"]  # fmt: skip
    bare = _run(env, "run-cmd", app, "--model", named, "--json", "--no-hw", "--no-projector")
    assert json.loads(bare.stdout)["argv"][-1] == "/models/acme/split/m-00001-of-00002.gguf"


@pytest.mark.parametrize(
    ("argv", "status", "words"),
    [
        (["ollama-nope", "acme/tiny-gguf"], 2, "keeps no model store of its own"),
        (["llm-LABEL", "acme/tiny-gguf"], 2, "apps that do: "),
        (["store-LABEL", "acme/absent/x.gguf"], 1, "is not installed"),
    ],
)
def test_import_refuses_what_it_cannot_do(
    env: dict[str, str], test_label: str, argv: list[str], status: int, words: str
) -> None:
    argv = [a.replace("LABEL", test_label) for a in argv]
    done = _run(env, "models", "import", *argv, "--yes")
    assert done.returncode == status and words in done.stderr
    assert "Traceback" not in done.stderr


def test_start_pulls_a_repo_app_its_whole_repo(
    env: dict[str, str], hub_server: HubServer, test_label: str, docker_client: Any
) -> None:
    app = f"repo-{test_label}"
    port = str(free_port())
    done = _run(env, "start", app, "--model-id", "acme/tiny-sd", "--port", port)
    assert done.returncode == 0, done.stderr
    assert "acme/tiny-sd is not installed: pulling it first" in done.stderr
    store = Path(env["PAITUI_STATE_DIR"]) / "models"
    assert sorted(p.name for p in (store / "acme/tiny-sd").rglob("*") if p.is_file()) == sorted(
        Path(p).name for p in hub_server.repos["acme/tiny-sd"].files
    )
    view = store / ".paitui-views/hf/models--acme--tiny-sd"
    assert (view / "refs/main").read_text() == hub_server.repos["acme/tiny-sd"].commit
    (container,) = _containers(docker_client, test_label)
    files = " ".join(f"./{p}" for p in sorted(hub_server.repos["acme/tiny-sd"].files))
    wait_until(lambda: f"files {files}" in container.logs().decode(), timeout=30, what="the repo")
    hub_server.requests.clear()
    assert _run(env, "stop", app).returncode == 0
    again = _run(env, "start", app, "--model-id", "acme/tiny-sd", "--port", port)
    assert again.returncode == 0 and "pulling it first" not in again.stderr, again.stderr
    assert hub_server.requests == []
    missing = _run(env, "start", app, "--model-id", "acme/absent", "--port", port)
    assert missing.returncode == 1 and "not found" in missing.stderr
