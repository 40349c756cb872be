"""The pure rules behind the remote boxes: store listings and hardware reports read from another
box (untrusted: hostile answers, seeded), which box holds what, the dirs and model a remote plan
uses, the ports its engine holds, and when ``ls`` exits 1."""

from __future__ import annotations

import argparse
import json
import random

import pytest

from paitui.domain.fleet.hosts import LOCAL, HostSpec, HostState, host_from_table
from paitui.domain.fleet.remote_plan import (
    engine_port_check,
    remote_dirs,
    remote_model,
    report_from_engine,
    report_from_json,
)
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.remote import from_engine_info
from paitui.domain.hardware.report import Gpu, HardwareReport, Vendor
from paitui.domain.models.holders import (
    HeldFile,
    HeldRepo,
    RemoteStore,
    holders,
    holders_cell,
    parse_listing,
)

BOX = host_from_table("gpu1", {"endpoint": "ssh://ana@gpu1.lan"})


def _junk(rng: random.Random, depth: int = 0) -> object:
    kinds: list[object] = [None, True, -1, 2**70, 3.5, "", "x" * rng.randint(0, 50), "../../etc"]
    if depth < 3:
        kinds += [
            [_junk(rng, depth + 1) for _ in range(rng.randint(0, 4))],
            {rng.choice(["repo", "files", "path", "size", "gpus", "vendor", "ranking", "docker"]):
             _junk(rng, depth + 1) for _ in range(rng.randint(0, 4))},
        ]  # fmt: skip
    return rng.choice(kinds)


def test_store_listing_is_read_defensively() -> None:
    listing = {
        "store": "/srv/models",
        "repos": [
            {"repo": "acme/a", "origin": "store", "size": 10,
             "files": [{"path": "a.gguf", "size": 10, "apps": ["llamacpp", 3]}, {"path": 5}]},
            {"repo": "", "files": []},
            "junk",
        ],
    }  # fmt: skip
    store = parse_listing("gpu1", json.dumps(listing))
    assert store.root == "/srv/models" and store.repo_ids == {"acme/a"}
    assert store.repos[0].files == (HeldFile("a.gguf", 10, ("llamacpp",)),)
    for bad, why in (("not json", "not JSON"), ("[]", "not a paitui store listing")):
        with pytest.raises(ValueError, match=why):
            parse_listing("gpu1", bad)
    with pytest.raises(ValueError, match="over"):
        parse_listing("gpu1", b" " * (8 << 20 + 1))
    rng = random.Random(16)
    outcomes = {"listing": 0, "refused": 0}
    for _ in range(400):  # hostile answers: a message or a listing, never another exception
        text = json.dumps({"store": _junk(rng), "repos": _junk(rng)})
        try:
            got = parse_listing("gpu1", text)
        except ValueError:
            outcomes["refused"] += 1
        else:
            assert all(isinstance(r.repo_id, str) and r.repo_id for r in got.repos)
            outcomes["listing"] += 1
    assert all(outcomes.values()), outcomes


def test_which_box_holds_what() -> None:
    held = holders(LOCAL, ["acme/a", "acme/b"], {"gpu1": {"acme/b", "acme/c"}, "gpu2": None})
    assert held == {
        "acme/a": ("local",),
        "acme/b": ("local", "gpu1"),
        "acme/c": ("gpu1",),
    }
    assert holders_cell("acme/b", held) == "local, gpu1"
    assert holders_cell("acme/c", held, unknown=["gpu2"]) == "gpu1, gpu2?"
    assert holders_cell("acme/z", held) == ""


def test_a_remote_report_becomes_the_planners_hardware() -> None:
    gpu = Gpu(Vendor.AMD, "1002:7340", "0000:03:00.0", "RX 5500", "amdgpu", vram_total=8 << 30)
    real = HardwareReport(
        gpus=(gpu,),
        ranking=(Accel.ROCM, Accel.CPU),
        render_gid=105,
        video_gid=44,
        kfd_present=True,
        kfd_access=True,
    )
    back = report_from_json(real.to_json())
    assert back.gpus == real.gpus and back.ranking == real.ranking
    assert (back.render_gid, back.video_gid, back.kfd_access) == (105, 44, True)
    rng = random.Random(17)
    for _ in range(400):  # hostile reports still give a report the planner can take
        data = {k: _junk(rng) for k in ("gpus", "ranking", "accels", "docker", "render_gid")}
        report = report_from_json(data)
        assert report.ranking and all(isinstance(a, Accel) for a in report.ranking)
        assert all(isinstance(g.vendor, Vendor) for g in report.gpus)


def test_engine_facts_alone_say_what_is_assumed() -> None:
    info = {"Runtimes": {"runc": {}, "nvidia": {}}, "ServerVersion": "27.1", "NCPU": 8}
    report, notes = report_from_engine(from_engine_info("gpu1", info))
    assert report.ranking == (Accel.CUDA, Accel.CPU) and report.docker is not None
    assert report.docker.nvidia_runtime
    assert "GPU models and VRAM" in notes[0] and "assumed NVIDIA" in notes[1]
    report, notes = report_from_engine(from_engine_info("gpu1", {"Runtimes": {"runc": {}}}))
    assert report.ranking == (Accel.CPU,) and "planned for CPU" in notes[1]


def test_remote_dirs_and_model() -> None:
    store = RemoteStore(
        "gpu1",
        "/home/ana/.local/share/paitui/models",
        (HeldRepo("acme/a", "store", 3, (HeldFile("a.Q4.gguf", 1), HeldFile("README.md", 2))),),
    )
    dirs = remote_dirs(BOX, store)
    assert dirs.models_dir == store.root
    assert dirs.apps_dir == "/home/ana/.local/share/paitui/apps" and "assumed" in dirs.notes[0]
    with pytest.raises(ValueError, match=r'set \[hosts.gpu1\] models_dir = "/path/on/that/box"'):
        remote_dirs(BOX, None, "paitui is not installed on gpu1")
    table = host_from_table(
        "gpu1", {"endpoint": "ssh://gpu1", "models_dir": "/m", "apps_dir": "/a"}
    )
    assert (remote_dirs(table, None).models_dir, remote_dirs(table, None).apps_dir) == ("/m", "/a")
    with pytest.raises(ValueError, match="absolute path"):
        host_from_table("gpu1", {"endpoint": "ssh://gpu1", "models_dir": "models"})
    assert remote_model(BOX, store, "acme/a", ["gguf"]) == "acme/a/a.Q4.gguf"
    assert remote_model(BOX, store, "acme/a:README.md", ["gguf"]) == "acme/a/README.md"
    with pytest.raises(ValueError, match="paitui models pull acme/a nope --host gpu1"):
        remote_model(BOX, store, "acme/a:nope", ["gguf"])
    with pytest.raises(ValueError, match="not in gpu1's store"):
        remote_model(BOX, store, "acme/b", ["gguf"])
    free = engine_port_check({8080})
    assert not free(8080) and free(8081)


@pytest.mark.parametrize(
    ("host", "strict", "away", "code"),
    [
        (None, False, False, 0),
        (None, False, True, 0),  # a stale context must not fail every ls
        (None, True, True, 1),
        ("gpu1", False, True, 1),
        ("gpu1", False, False, 0),
    ],
)
def test_when_ls_exits_1(host: str | None, strict: bool, away: bool, code: int) -> None:
    from paitui.cli.hosts import ls_exit_status

    states = [HostState("local", True), HostState("gpu1", not away, "gone" if away else "")]
    args = argparse.Namespace(host=host, strict=strict)
    assert ls_exit_status(args, states) == code


def test_loopback_ports_of_a_remote_only() -> None:
    from paitui.domain.fleet.hosts import unreachable_port

    assert unreachable_port(BOX, "127.0.0.1") and unreachable_port(BOX, "::1")
    assert not unreachable_port(BOX, "0.0.0.0")
    here = HostSpec("local", "unix:///var/run/docker.sock", "default")
    assert not unreachable_port(here, "127.0.0.1")


def test_the_boxs_own_paitui_names_the_store_first() -> None:
    table = host_from_table("gpu1", {"endpoint": "ssh://gpu1", "models_dir": "/old"})
    store = RemoteStore("gpu1", "/srv/models", ())
    dirs = remote_dirs(table, store)
    assert dirs.models_dir == "/srv/models" and "/old is not used" in dirs.notes[0]
