"""Pure parts of the engine service: endpoint resolution, error messages, pull progress folding,
stats arithmetic and event parsing (real message shapes from the engine, no engine needed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.engine.containers import ContainerStatus
from paitui.domain.engine.errors import ErrorKind, translate
from paitui.domain.engine.pull import PullTracker, split_image
from paitui.services.engine.connect import DEFAULT_HOST, make_client, resolve_endpoint
from paitui.services.engine.events import event_from_raw, info_from_attrs, parse_time
from paitui.services.engine.streams import stats_sample


def _context(config: Path, name: str, host: str, tls: bool = False) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}})
    )
    if tls:
        tls_dir = config / "contexts" / "tls" / digest / "docker"
        tls_dir.mkdir(parents=True)
        for f in ("ca.pem", "cert.pem", "key.pem"):
            (tls_dir / f).write_text("x")


def test_endpoint_order(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    _context(config, "remote", "tcp://10.0.0.5:2376", tls=True)
    _context(config, "other", "unix:///run/other.sock")
    (config / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    env = {"HOME": str(tmp_path)}
    ep = resolve_endpoint(None, env)
    assert (ep.host, ep.source, ep.tls_verify) == ("tcp://10.0.0.5:2376", "context remote", True)
    assert ep.client_cert and ep.client_cert.endswith("cert.pem")
    assert (
        resolve_endpoint(None, {**env, "DOCKER_CONTEXT": "other"}).host == "unix:///run/other.sock"
    )
    assert resolve_endpoint(None, {**env, "DOCKER_CONTEXT": "default"}).host == DEFAULT_HOST
    with_host = {**env, "DOCKER_HOST": "unix:///run/user/1000/docker.sock"}
    assert resolve_endpoint(None, with_host).source == "DOCKER_HOST"
    assert resolve_endpoint("tcp://box:2375", with_host).host == "tcp://box:2375"
    assert resolve_endpoint(None, {"HOME": str(tmp_path / "none")}).host == DEFAULT_HOST
    assert resolve_endpoint(None, {"DOCKER_CONFIG": str(config)}).source == "context remote"


class _ApiError(Exception):
    """Stands in for docker.errors.APIError: the same ``explanation`` attribute."""

    def __init__(self, explanation: str) -> None:
        super().__init__(explanation)
        self.explanation = explanation


def test_a_local_engine_is_reached_without_proxy_or_netrc_lookups(docker_client: Any) -> None:
    """No proxy or ~/.netrc applies to a unix socket: the client does not look them up on each
    call (they were a third of a stats reading's CPU), and still answers."""
    endpoint = resolve_endpoint()
    assert endpoint.host.startswith("unix://"), endpoint
    local = make_client(endpoint)
    try:
        assert local.api.trust_env is False
        assert local.ping()
    finally:
        local.close()


def test_engine_messages_become_readable_errors() -> None:
    cases = {
        "manifest for 127.0.0.1:5000/paitest/busybox:nope not found: manifest unknown: "
        "manifest unknown": ErrorKind.IMAGE_NOT_FOUND,
        (
            'Get "http://127.0.0.1:5001/v2/": dial tcp 127.0.0.1:5001: connect: connection refused'
        ): ErrorKind.REGISTRY_DOWN,
        "driver failed programming external connectivity on endpoint paitui-x: Error starting "
        "userland proxy: listen tcp4 127.0.0.1:8188: bind: address already in use": (
            ErrorKind.PORT_IN_USE
        ),
        'error gathering device information while adding custom device "/dev/kfd": '
        "no such file or directory": ErrorKind.DEVICE_MISSING,
        'could not select device driver "nvidia" with capabilities: [[gpu]]': ErrorKind.GPU_RUNTIME,
        "Error while fetching server API version: ('Connection aborted.', "
        "PermissionError(13, 'Permission denied'))": ErrorKind.PERMISSION,
        "Error while fetching server API version: ('Connection aborted.', "
        "FileNotFoundError(2, 'No such file or directory'))": ErrorKind.UNREACHABLE,
    }
    for text, kind in cases.items():
        err = translate(_ApiError(text), host="unix:///var/run/docker.sock", image="a/b:c")
        assert err.kind == kind, (text, err)
        assert err.message and "Traceback" not in err.message
    port = translate(_ApiError(next(t for t, k in cases.items() if k == ErrorKind.PORT_IN_USE)))
    assert "8188" in port.message and "8188" in (port.fix or "")
    kfd = translate(_ApiError(next(t for t, k in cases.items() if k == ErrorKind.DEVICE_MISSING)))
    assert "/dev/kfd" in kfd.message and "amdgpu" in (kfd.fix or "")


def test_pull_tracker_folds_messages() -> None:
    clock = iter(float(i) for i in range(100))
    t = PullTracker("r/x:1", clock=lambda: next(clock))
    t.feed({"status": "Pulling from r/x", "id": "1"})
    t.feed({"status": "Already exists", "progressDetail": {}, "id": "base"})
    t.feed({"status": "Pulling fs layer", "progressDetail": {}, "id": "a"})
    t.feed({"status": "Pulling fs layer", "progressDetail": {}, "id": "b"})
    p = t.feed(
        {"status": "Downloading", "progressDetail": {"current": 100, "total": 1000}, "id": "a"}
    )
    assert (p.downloaded, p.total) == (100, 1000)
    p = t.feed(
        {"status": "Downloading", "progressDetail": {"current": 50, "total": 500}, "id": "b"}
    )
    assert (p.downloaded, p.total) == (150, 1500) and p.speed > 0 and p.eta is not None
    t.feed({"status": "Download complete", "progressDetail": {}, "id": "a"})
    # Extracting reports the same total; it must not count as more downloaded bytes.
    p = t.feed(
        {"status": "Extracting", "progressDetail": {"current": 300, "total": 1000}, "id": "a"}
    )
    layer_a = next(la for la in p.layers if la.id == "a")
    assert (layer_a.current, layer_a.extracted, p.downloaded) == (1000, 300, 1050)
    t.feed({"status": "Pull complete", "progressDetail": {}, "id": "a"})
    t.feed({"status": "Download complete", "progressDetail": {}, "id": "b"})
    t.feed({"status": "Pull complete", "progressDetail": {}, "id": "b"})
    t.feed({"status": "Digest: sha256:abc"})
    p = t.feed({"status": "Status: Downloaded newer image for r/x:1"})
    assert p.done and p.downloaded == p.total == 1500 and p.eta == 0
    assert [la.status for la in p.layers] == ["Already exists", "Pull complete", "Pull complete"]
    assert split_image("127.0.0.1:5000/a/b") == ("127.0.0.1:5000/a/b", "latest")
    assert split_image("127.0.0.1:5000/a/b:v2") == ("127.0.0.1:5000/a/b", "v2")
    assert split_image("a/b@sha256:ff") == ("a/b", "sha256:ff")


def test_stats_cpu_percent_and_memory() -> None:
    raw = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000},
            "system_cpu_usage": 20_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 10_000_000},
        "memory_stats": {"usage": 5000, "limit": 10_000, "stats": {"total_inactive_file": 1000}},
    }
    s = stats_sample("c1", raw)
    assert s is not None
    assert s.cpu_percent == 2_000_000 / 10_000_000 * 2 * 100
    assert (s.memory_bytes, s.memory_limit) == (4000, 10_000)
    first = stats_sample("c1", {**raw, "precpu_stats": {}})
    assert first is not None and first.cpu_percent > 0


def test_event_and_inspect_parsing() -> None:
    ev = event_from_raw(
        {
            "status": "die",
            "id": "abc",
            "Type": "container",
            "Action": "die",
            "Actor": {
                "ID": "abc",
                "Attributes": {
                    "exitCode": "137",
                    "name": "paitui-x",
                    "paitui.app": "x",
                    "paitui.variant": "cpu",
                },
            },
            "time": 1,
            "timeNano": 1_700_000_000_500_000_000,
        }
    )
    assert (ev.action, ev.container_id, ev.exit_code, ev.app_id, ev.name) == (
        "die",
        "abc",
        137,
        "x",
        "paitui-x",
    )
    assert abs(ev.time - 1_700_000_000.5) < 1e-6
    assert event_from_raw({"Action": "health_status: healthy", "Actor": {"ID": "a"}}).action == (
        "health_status"
    )
    info = info_from_attrs(
        {
            "Id": "abc",
            "Name": "/paitui-x",
            "State": {
                "Status": "exited",
                "ExitCode": 0,
                "StartedAt": "2026-11-21T23:00:00.123456789Z",
                "FinishedAt": "0001-01-01T00:00:00Z",
            },
            "Config": {"Image": "img", "Labels": {"paitui.app": "x", "paitui.variant": "cpu"}},
            "NetworkSettings": {
                "Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}], "9/udp": None}
            },
        }
    )
    assert info.name == "paitui-x" and info.status == ContainerStatus.EXITED and info.exit_code == 0
    assert info.ports[0].host_port == 9000 and info.finished_at is None
    assert parse_time("2026-11-21T23:00:00.123456789Z") == parse_time("2026-11-21T23:00:00.123456Z")


async def test_events_report_an_unreachable_engine_and_keep_trying(tmp_path: Path) -> None:
    import asyncio

    from paitui.domain.engine.containers import EngineConnection
    from paitui.services.engine.client import Engine
    from paitui.settings import Settings

    missing = f"unix://{tmp_path}/no-engine.sock"
    engine = Engine(Settings(docker_host=missing), backoff_initial=0.01, backoff_max=0.02)
    events = engine.events()
    first = await asyncio.wait_for(anext(events), 10)
    assert isinstance(first, EngineConnection) and not first.connected
    assert "not reachable" in first.message and first.host == missing
    # Retries go on quietly: no second report while the engine stays away.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(events), 0.3)
    await events.aclose()
    await engine.close()
