"""Readiness logic against the real llama.cpp server's answers (bodies as it sends them).

Pure logic: the bundled catalog's health check classifies what the server answers, and a
container the engine is about to restart after a crash reads as crashed.
"""

from __future__ import annotations

import json

import pytest

from paitui.domain.catalog.schema import HealthCheck, HttpExpect
from paitui.domain.engine.containers import ContainerInfo, ContainerStatus
from paitui.domain.fleet.status import AppState, ProbeOutcome, from_container
from paitui.services.catalog.loader import load_catalog
from paitui.services.fleet.probes import classify_http

#: ``GET /v1/models`` of llama-server 11434 in its three phases (trimmed to the keys that count).
LOADING = '{"error":{"message":"Loading model","type":"unavailable_error","code":503}}'
ROUTER_EMPTY = json.dumps({"object": "list", "data": [], "models": []})
LOADED = json.dumps(
    {
        "models": [{"name": "/models/a/tiny.gguf", "model": "/models/a/tiny.gguf"}],
        "object": "list",
        "data": [{"id": "/models/a/tiny.gguf", "object": "model", "owned_by": "llamacpp"}],
    }
)


@pytest.fixture(scope="module")
def health() -> HealthCheck:
    check = load_catalog().apps["llama-cpp-server"].health
    assert check is not None
    return check


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (503, LOADING, ProbeOutcome.LOADING),
        (200, LOADED, ProbeOutcome.READY),
        (200, ROUTER_EMPTY, ProbeOutcome.UNHEALTHY),  # started without a model
        (200, '{"status":"ok"}', ProbeOutcome.UNHEALTHY),  # /health's answer proves no model
        (200, '{"data": {}}', ProbeOutcome.UNHEALTHY),
        (200, '{"data": "x"}', ProbeOutcome.UNHEALTHY),
        (200, '{"data": null}', ProbeOutcome.UNHEALTHY),
        (200, "[1]", ProbeOutcome.UNHEALTHY),
        (200, "not json", ProbeOutcome.UNHEALTHY),
        (401, '{"error":{"message":"Invalid API Key"}}', ProbeOutcome.UNHEALTHY),
    ],
)
def test_the_catalog_check_reads_the_servers_answers(
    health: HealthCheck, status: int, body: str, outcome: ProbeOutcome
) -> None:
    assert classify_http(health, status, body)[0] == outcome


def test_json_nonempty_wants_every_key_filled() -> None:
    check = HealthCheck(path="/x", ready=HttpExpect(json_nonempty=("data", "models")))
    assert classify_http(check, 200, '{"data": [1], "models": {"a": 1}}')[0] == ProbeOutcome.READY
    assert classify_http(check, 200, '{"data": [1], "models": []}')[0] != ProbeOutcome.READY
    assert classify_http(check, 200, '{"data": [1]}')[0] != ProbeOutcome.READY


@pytest.mark.parametrize(("code", "state"), [(1, AppState.CRASHED), (0, AppState.EXITED)])
def test_a_container_waiting_to_be_restarted_is_not_starting(code: int, state: AppState) -> None:
    info = ContainerInfo(
        "c1",
        "paitui-llama",
        "llama",
        "cpu",
        "img",
        ContainerStatus.RESTARTING,
        exit_code=code,
        started_at=100.0,
        finished_at=100.02,
    )
    status = from_container(info, 101.0)
    assert status.state == state and status.exit_code == code
    assert "the engine restarts it" in status.detail and status.since == 100.02
