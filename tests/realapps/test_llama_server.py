"""The real llama.cpp server, end to end through the real engine and real ``paitui`` processes.

The model comes from the test Hub through ``paitui models pull`` (or ``start --model``, which pulls
first); ``paitui start`` runs the bundled catalog entry on the locally built image; the states
follow the server's real answers; a temperature-0 chat completion goes through the link paitui
printed; a model the server cannot load ends in ``crashed`` with the server's own line.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from paitui.domain.catalog.schema import HealthCheck
from paitui.domain.fleet.status import ProbeOutcome
from paitui.services.engine.client import Engine
from paitui.services.fleet.probes import ProbeTarget, probe_once
from paitui.services.registry import Services
from paitui.settings import load_settings
from tests.helpers import free_port, wait_until
from tests.realapps.conftest import REPO, SHARDS, TINY, TRUNCATED, LlamaAssets, run_paitui

pytestmark = pytest.mark.docker

T = TypeVar("T")
STATE_ORDER = ["starting", "loading", "ready"]
#: What the server logs when it cannot load its model (and exits 1).
LOAD_ERROR = "exiting due to model loading error"


def _health(app_id: str, catalog: Path) -> HealthCheck:
    health = Services(load_settings(), [catalog]).catalog.apps[app_id].health
    assert health is not None
    return health


def _with_engine(catalog: Path, call: Callable[[Engine], Awaitable[T]]) -> T:
    """One engine call as the TUI makes it (the autouse fixture set the same state dirs)."""

    async def run() -> T:
        services = Services(load_settings(), [catalog])
        try:
            return await call(services.engine)
        finally:
            await services.engine.close()

    return asyncio.run(run())


def _logs(catalog: Path, app_id: str) -> list[str]:
    async def read(engine: Engine) -> list[str]:
        return [line async for line in engine.logs(app_id, follow=False)]

    return _with_engine(catalog, read)


def _chat(link: str) -> str:
    reply = httpx.post(
        f"{link}/chat/completions",
        json={"messages": [{"role": "user", "content": "Say hello"}], "temperature": 0,
              "max_tokens": 8, "seed": 1},
        timeout=30, trust_env=False,
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    content = reply.json()["choices"][0]["message"]["content"]
    assert isinstance(content, str)
    return content


def _ls(env: dict[str, str], app_id: str) -> list[dict[str, Any]]:
    """``paitui ls --json`` rows of this test's app (other tests share the engine)."""
    listed = run_paitui(env, "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    return [r for r in json.loads(listed.stdout) if r["app"] == app_id]


def _states(wait_stderr: str, app_id: str) -> list[str]:
    """The states ``paitui wait`` said, in order, without repeats."""
    states: list[str] = []
    for line in wait_stderr.splitlines():
        if line.startswith(f"{app_id}: "):
            state = line.removeprefix(f"{app_id}: ").split(" ", 1)[0]
            if not states or states[-1] != state:
                states.append(state)
    return states


def test_pull_start_ready_chat_logs_stop_remove(
    llama_env: dict[str, str],
    llama_app: tuple[str, Path],
    llama_assets: LlamaAssets,
    docker_client: Any,
) -> None:
    app_id, catalog = llama_app
    pulled = run_paitui(llama_env, "models", "pull", REPO, TINY)
    assert pulled.returncode == 0, pulled.stderr
    store = Path(llama_env["PAITUI_STATE_DIR"]) / "models" / REPO
    assert (store / TINY).read_bytes() == llama_assets.tiny
    port = free_port()
    started = run_paitui(
        llama_env, "start", app_id, "--model", f"{REPO}:{TINY}", "--port", str(port), "--json"
    )
    assert started.returncode == 0, started.stderr
    assert "pulling it first" not in started.stderr  # installed by the pull above
    links = {x["label"]: x["url"] for x in json.loads(started.stdout)["links"]}
    assert links["OpenAI API"] == f"http://127.0.0.1:{port}/v1"
    waited = run_paitui(llama_env, "wait", app_id, "--ready", "--timeout", "60")
    assert waited.returncode == 0, waited.stderr
    states = _states(waited.stderr, app_id)
    assert states[-1] == "ready" and states == sorted(states, key=STATE_ORDER.index), states

    # Ready means the model is there: the server lists it.
    listed = httpx.get(f"{links['OpenAI API']}/models", timeout=5, trust_env=False).json()
    assert listed["data"] and listed["data"][0]["id"] == f"/models/{REPO}/{TINY}"

    # A real chat completion through the printed link; temperature 0 answers the same twice.
    first = _chat(links["OpenAI API"])
    assert first and _chat(links["OpenAI API"]) == first

    # The logs the TUI's pane reads are the server's own.
    logs = _logs(catalog, app_id)
    assert any("model loaded" in line for line in logs), logs[-20:]
    assert any(f"/models/{REPO}/{TINY}" in line for line in logs), logs[-20:]

    stopped = run_paitui(llama_env, "stop", app_id)
    assert stopped.returncode == 0 and "exit code 0" in stopped.stdout, stopped
    assert [r["state"] for r in _ls(llama_env, app_id)] == ["exited"]
    _with_engine(catalog, lambda engine: engine.remove(app_id))
    assert docker_client.containers.list(all=True, filters={"label": f"paitui.app={app_id}"}) == []
    assert _ls(llama_env, app_id) == []
    assert (store / TINY).read_bytes() == llama_assets.tiny  # the model stays in the store


def test_a_split_gguf_loads_from_its_first_shard_through_a_real_loading_phase(
    llama_env: dict[str, str],
    llama_app: tuple[str, Path],
    llama_assets: LlamaAssets,
    tmp_path: Path,
) -> None:
    """Started from shard 1 it loads both; started again (the Running screen's Start) with
    shard 2 a FIFO, the server blocks opening it, so its 503 "Loading model" lasts until the
    test lets go (loading the tiny model otherwise takes ~0.1 s, less than Docker's proxy lets a
    probe see). Then the real shard takes the FIFO's name and it loads."""
    app_id, catalog = llama_app
    pulled = run_paitui(llama_env, "models", "pull", REPO, "tiny-llama-split-*")
    assert pulled.returncode == 0, pulled.stderr
    port = free_port()
    started = run_paitui(
        llama_env, "start", app_id, "--model", f"{REPO}:{SHARDS[0]}", "--port", str(port), "--json"
    )
    assert started.returncode == 0, started.stderr
    assert "pulling it first" not in started.stderr
    assert run_paitui(llama_env, "wait", app_id, "--timeout", "60").returncode == 0
    link = f"http://127.0.0.1:{port}"
    whole = _chat(f"{link}/v1")
    assert run_paitui(llama_env, "stop", app_id).returncode == 0
    shard2 = Path(llama_env["PAITUI_STATE_DIR"]) / "models" / REPO / SHARDS[1]
    aside = tmp_path / SHARDS[1]
    shard2.rename(aside)
    os.mkfifo(shard2)
    _with_engine(catalog, lambda engine: engine.start(app_id))
    waiting = subprocess.Popen(
        [sys.executable, "-m", "paitui", "wait", app_id, "--timeout", "60"],
        env=llama_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        said: list[str] = []
        assert waiting.stderr is not None
        for line in waiting.stderr:
            said.append(line)
            if f"{app_id}: loading" in line:
                break
        assert "Loading model" in said[-1], said
        # The server is blocked opening the FIFO: let that open return (then read EOF) while
        # the real shard takes the FIFO's name, so the next open finds it.
        fd = os.open(shard2, os.O_WRONLY)
        os.replace(aside, shard2)
        os.close(fd)
        _out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, "".join(said) + err
    states = _states("".join(said) + err, app_id)
    assert states == ["starting", "loading", "ready"], states
    props = httpx.get(f"{link}/props", timeout=5, trust_env=False).json()
    assert props["model_path"] == f"/models/{REPO}/{SHARDS[0]}"
    assert shard2.read_bytes() == llama_assets.shards[1]
    assert _chat(f"{link}/v1") == whole


def test_a_model_the_server_cannot_load_ends_in_crashed_with_its_line(
    llama_env: dict[str, str], llama_app: tuple[str, Path]
) -> None:
    app_id, _catalog = llama_app
    port = str(free_port())
    started = run_paitui(
        llama_env, "start", app_id, "--model", f"{REPO}:{TRUNCATED}", "--port", port
    )
    assert started.returncode == 0, started.stderr
    assert "pulling it first" in started.stderr
    waited = run_paitui(llama_env, "wait", app_id, "--timeout", "60")
    assert waited.returncode == 1, waited.stderr
    assert "crashed" in waited.stderr and LOAD_ERROR in waited.stderr, waited.stderr
    # The engine restarts it (unless-stopped) every time it dies: a listing between two runs
    # says crashed, not starting. A listing made during one of those runs (the engine says
    # running for as long as the server takes to fail, longer on a busy box) is read again.
    deadline = time.monotonic() + 20
    while True:
        (row,) = _ls(llama_env, app_id)
        if row["state"] == "crashed" or time.monotonic() > deadline:
            break
    assert row["state"] == "crashed" and row["exit_code"] == 1, row


def test_a_model_deleted_while_stopped_ends_in_crashed(
    llama_env: dict[str, str], llama_app: tuple[str, Path]
) -> None:
    app_id, catalog = llama_app
    started = run_paitui(
        llama_env, "start", app_id, "--model", f"{REPO}:{TINY}", "--port", str(free_port())
    )
    assert started.returncode == 0, started.stderr
    assert run_paitui(llama_env, "wait", app_id, "--timeout", "60").returncode == 0
    assert run_paitui(llama_env, "stop", app_id).returncode == 0
    (Path(llama_env["PAITUI_STATE_DIR"]) / "models" / REPO / TINY).unlink()
    # Started again as the Running screen does (the same container).
    _with_engine(catalog, lambda engine: engine.start(app_id))
    waited = run_paitui(llama_env, "wait", app_id, "--timeout", "60")
    assert waited.returncode == 1 and LOAD_ERROR in waited.stderr, waited.stderr
    assert "crashed" in waited.stderr


def test_started_without_a_model_is_not_ready(
    llama_assets: LlamaAssets, llama_app: tuple[str, Path], docker_client: Any, test_label: str
) -> None:
    """Router mode: /health is 200, /v1/models lists nothing; the catalog's check says not ready."""
    app_id, catalog = llama_app
    container = docker_client.containers.run(
        llama_assets.image, ["--port", "8080"], detach=True,
        name=f"paitui-test-router-{test_label}", labels={"paitui.test": test_label},
        ports={"8080/tcp": ("127.0.0.1", None)},
    )  # fmt: skip
    try:

        def host_port() -> int | None:
            container.reload()
            bound = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp")
            return int(bound[0]["HostPort"]) if bound else None

        port = wait_until(host_port, what="the published port")
        assert port is not None

        def healthy() -> bool:
            try:
                return (
                    httpx.get(
                        f"http://127.0.0.1:{port}/health", timeout=1, trust_env=False
                    ).status_code
                    == 200
                )
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=20, what="/health 200")
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5, trust_env=False)
        assert models.status_code == 200 and models.json()["data"] == []
        health = _health(app_id, catalog)
        result = asyncio.run(probe_once(ProbeTarget(app_id, "127.0.0.1", port, health)))
        assert result.outcome != ProbeOutcome.READY, result
        assert result.outcome == ProbeOutcome.UNHEALTHY and result.status_code == 200
    finally:
        container.remove(force=True)
