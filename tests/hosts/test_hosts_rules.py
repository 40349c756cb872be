"""The pure rules of hosts: settings entries, docker contexts, merging, tunnels, remote reports."""

from __future__ import annotations

import json
import random

import pytest

from paitui.domain.engine.containers import PublishedPort
from paitui.domain.fleet.hosts import (
    ContextMeta,
    HostSpec,
    HostState,
    host_cell,
    host_from_table,
    host_links,
    merge_hosts,
    show_host_column,
    tile_host_note,
)
from paitui.domain.hardware.remote import MISSING_WITHOUT_PAITUI, from_engine_info, parse_report

LOCAL = HostSpec("local", "unix:///var/run/docker.sock", "default")


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({}, "endpoint must be a string"),
        ({"endpoint": "box:22"}, "is not unix:///path"),
        ({"endpoint": "ftp://box"}, "is not unix:///path"),
        ({"endpoint": "tcp://box"}, "needs a port"),
        ({"endpoint": "ssh://"}, "is not unix:///path"),
        ({"endpoint": "ssh://user@:22"}, "names no host"),
        ({"endpoint": "ssh://box:99999"}, "endpoint 'ssh://box:99999'"),
        ({"endpoint": "tcp://box:2376", "tls_verify": True}, "needs ca_cert"),
        ({"endpoint": "tcp://box:2376", "client_cert": "/c.pem"}, "go together"),
        ({"endpoint": "tcp://box:2376", "tls_verify": "yes", "ca_cert": "/ca"}, "true or false"),
        ({"endpoint": "ssh://box", "ssh_client": "putty"}, "ssh_client must be one of"),
        ({"endpoint": "ssh://box", "port": 22}, "unknown keys port"),
        (42, "expected a table"),
    ],
)
def test_bad_host_entries_say_what_to_fix(entry: object, says: str) -> None:
    with pytest.raises(ValueError, match=r"\[hosts\.gpu1\]") as info:
        host_from_table("gpu1", entry)
    assert says in str(info.value)


def test_good_entries() -> None:
    ssh = host_from_table("gpu1", {"endpoint": "ssh://ana@gpu1.lan:2222"})
    assert (ssh.scheme, ssh.ssh_user, ssh.ssh_port, ssh.ssh_destination) == (
        "ssh",
        "ana",
        2222,
        "ana@gpu1.lan",
    )
    assert ssh.remote and ssh.probe_host == "gpu1.lan"
    tls = host_from_table(
        "t",
        {
            "endpoint": "tcp://10.0.0.5:2376",
            "ca_cert": "/ca",
            "client_cert": "/c",
            "client_key": "/k",
        },
    )
    assert tls.tls_verify and tls.remote and tls.ssh_destination == "10.0.0.5"
    assert host_from_table("s", "unix:///run/other.sock").remote is False
    assert host_from_table("lo", {"endpoint": "ssh://root@127.0.0.1:2200"}).remote is False
    with pytest.raises(ValueError, match="host name"):
        host_from_table("has space", {"endpoint": "ssh://box"})
    with pytest.raises(ValueError, match="pick another"):
        host_from_table("local", {"endpoint": "ssh://box"})


def test_merge_keeps_every_good_host_once_and_names_every_bad_one() -> None:
    contexts = [
        ContextMeta("default", {"Endpoints": {"docker": {"Host": "unix:///var/run/docker.sock"}}}),
        ContextMeta("gpu1", {"Endpoints": {"docker": {"Host": "ssh://ana@gpu1"}}}),
        ContextMeta("broken", {"Endpoints": {}}),
        ContextMeta(
            "tls",
            {"Endpoints": {"docker": {"Host": "tcp://b:2376", "SkipTLSVerify": False}}},
            {"ca.pem": "/x/ca.pem", "cert.pem": "/x/cert.pem", "key.pem": "/x/key.pem"},
        ),
    ]
    table = {"gpu1": {"endpoint": "ssh://other"}, "d2": {"endpoint": "unix:///tmp/d2.sock"}, "x": 1}
    merged = merge_hosts(LOCAL, contexts, table)
    assert merged.names == ["local", "gpu1", "tls", "d2"]
    assert merged.hosts[0].current and not any(h.current for h in merged.hosts[1:])
    assert merged.get("gpu1") is not None and merged.get("gpu1").endpoint == "ssh://ana@gpu1"  # type: ignore[union-attr]
    tls = merged.get("tls")
    assert tls is not None and tls.tls_verify and tls.client_key == "/x/key.pem"
    problems = " | ".join(merged.problems)
    assert "'broken' has no docker endpoint" in problems
    assert "[hosts.gpu1]: a docker context has that name" in problems
    assert "[hosts.x]" in problems
    assert len(merged.problems) == 3
    with pytest.raises(LookupError, match="known hosts: local, gpu1, tls, d2"):
        merged.pick("nope")
    assert merged.pick(None) == list(merged.hosts)


def test_the_current_context_is_listed_once() -> None:
    current = HostSpec("gpu1", "ssh://ana@gpu1", "context gpu1")
    contexts = [ContextMeta("gpu1", {"Endpoints": {"docker": {"Host": "ssh://ana@gpu1"}}})]
    merged = merge_hosts(current, contexts, {}, "gpu1")
    assert merged.names == ["gpu1"] and merged.hosts[0].current


def test_links_on_a_remote_box_carry_that_box_s_ssh_line() -> None:
    ports = [
        PublishedPort(8080, "tcp", "127.0.0.1", 18080),
        PublishedPort(8080, "tcp", "::1", 18080),
        PublishedPort(9000, "udp", "127.0.0.1", 19000),
    ]
    box = host_from_table("gpu1", {"endpoint": "ssh://ana@gpu1.lan:2222"})
    links = host_links(None, ports, box, {}, "laptop")
    assert links.ssh_tunnel == "ssh -p 2222 -L 18080:127.0.0.1:18080 ana@gpu1.lan"
    assert links.primary is not None and links.primary.url == "http://127.0.0.1:18080/"
    tcp = host_from_table("t", {"endpoint": "tcp://10.1.2.3:2375"})
    assert host_links(None, ports, tcp, {}).ssh_tunnel == "ssh -L 18080:127.0.0.1:18080 10.1.2.3"
    # This box, not over SSH: no tunnel at all.
    assert host_links(None, ports, LOCAL, {}).ssh_tunnel is None


def test_row_and_tile_text() -> None:
    box = host_from_table("gpu1", {"endpoint": "ssh://gpu1"})
    assert not show_host_column([LOCAL]) and show_host_column([LOCAL, box])
    assert host_cell("gpu1", HostState("gpu1", False, "gone")) == "gpu1 (unreachable)"
    assert host_cell("gpu1", HostState("gpu1", True)) == "gpu1"
    assert HostState("x").label == "connecting"
    assert tile_host_note([LOCAL]) is None
    current = HostSpec("local", LOCAL.endpoint, "default", current=True)
    assert tile_host_note([current, box]) == "runs on local"
    assert tile_host_note([current, box], "gpu1") == "runs on gpu1"


def test_engine_info_alone_says_what_is_missing() -> None:
    info = {
        "OperatingSystem": "Ubuntu 24.04",
        "KernelVersion": "6.8",
        "NCPU": 32,
        "MemTotal": 2**37,
        "Runtimes": {"runc": {}, "nvidia": {}},
        "DiscoveredDevices": [{"Source": "cdi", "ID": "nvidia.com/gpu=0"}, {"Source": "x"}, 3],
        "ServerVersion": "27.1",
    }
    hw = from_engine_info("gpu1", info, "paitui is not installed there")
    assert hw.runtimes == ("nvidia", "runc") and hw.cdi_devices == ("nvidia.com/gpu=0",)
    assert (hw.os, hw.cpus, hw.ram_bytes) == ("Ubuntu 24.04", 32, 2**37)
    assert hw.missing == MISSING_WITHOUT_PAITUI and hw.notes == ("paitui is not installed there",)
    odd = from_engine_info(
        "x", {"NCPU": "many", "MemTotal": -1, "Runtimes": [], "OperatingSystem": 5}
    )
    assert (odd.cpus, odd.ram_bytes, odd.runtimes, odd.os) == (None, None, (), None)


def test_remote_reports_are_read_defensively() -> None:
    good = {
        "gpus": [{"name": "RTX 4090", "vendor": "nvidia", "vram_total": 24 * 2**30}, "junk"],
        "ranking": ["cuda", 3, "cpu"],
        "docker": {"version": "27.1"},
        "kernel": "6.8",
    }
    hw = parse_report("gpu1", json.dumps(good))
    assert [g.name for g in hw.gpus] == ["RTX 4090"] and hw.ranking == ("cuda", "cpu")
    assert hw.engine_version == "27.1" and hw.source == "paitui on the box"
    for bad in ("", "not json", "[1,2]", '{"gpus": 3}', "x" * (2**20 + 1)):
        with pytest.raises(ValueError):
            parse_report("gpu1", bad)
    # Seeded garbage: every answer is a report or a ValueError, never anything else.
    rng = random.Random(16)
    values: list[object] = [None, 1, -1, 1.5, True, "s", [], {}, [1], {"a": 1}]
    outcomes = {"read": 0, "refused": 0}
    for _ in range(300):
        doc = {
            key: rng.choice(values)
            for key in rng.sample(["gpus", "ranking", "docker", "kernel", "ram_bytes"], 3)
        }
        if rng.random() < 0.5:
            doc["gpus"] = [{k: rng.choice(values) for k in ("name", "vram_total", "driver")}]
        try:
            hw = parse_report("x", json.dumps(doc))
        except ValueError:
            outcomes["refused"] += 1
        else:
            assert all(isinstance(g.name, str) for g in hw.gpus)
            assert all(isinstance(r, str) for r in hw.ranking)
            outcomes["read"] += 1
    assert outcomes["read"] and outcomes["refused"], outcomes
