"""``paitui start APP --host gpubox`` plans for THAT box: the store and apps dir its own paitui
names, its engine's published ports (not this box's bind test), its hardware from its paitui or,
without one, from its engine with the missing GPU facts said; refused with what to set when its
store is not known. The container really runs there, the store mounted read-only."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from paitui.cli.remote_start import plan_on_host
from paitui.services.fleet.hosts import HostEngine
from paitui.services.registry import Services
from paitui.settings import load_settings
from tests.helpers import free_port
from tests.hosts.remote_box import RemoteBox

pytestmark = pytest.mark.docker


def _catalog(tmp_path: Path, app_id: str, image: str, port: int) -> Path:
    from tests.engine.conftest import stand_in_app

    entry = stand_in_app(app_id, image, port=port).model_dump(mode="json", exclude_none=True)
    entry["mounts"]["models"] = {"path": "/models", "formats": ["gguf"]}
    catalog = tmp_path / "extra.yml"
    catalog.write_text(json.dumps({"apps": [entry]}))
    return catalog


def _two_free_ports() -> tuple[socket.socket, int]:
    """A free port whose next one is free too, the next one held by a listening socket."""
    for _ in range(50):
        base = free_port()
        here = socket.socket()
        try:
            here.bind(("127.0.0.1", base + 1))
        except OSError:
            here.close()
            continue
        here.listen()
        return here, base
    raise AssertionError("no two free ports in a row")


def _args(app_id: str, **kw: Any) -> argparse.Namespace:
    base: dict[str, Any] = {
        "app": app_id,
        "env": [],
        "source": None,
        "no_hw": False,
        "model": None,
        "model_id": None,
        "variant": None,
        "gpu": None,
        "port": None,
        "arg": [],
    }
    return argparse.Namespace(**(base | kw))


def _plan(remote: RemoteBox, catalog: Path, host: str, args: argparse.Namespace) -> Any:
    settings = load_settings(remote.config, {})
    services = Services(settings, [catalog])
    spec = services.hosts.get(host)
    assert spec is not None and spec.remote
    return plan_on_host(args, services, HostEngine(spec, settings))


def test_start_plans_for_the_remote_box(
    tmp_path: Path,
    remote: RemoteBox,
    busybox_image: str,
    docker_client: Any,
    app_tag: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app_id = f"{app_tag}-rs"
    here, base = _two_free_ports()
    catalog = _catalog(tmp_path, app_id, busybox_image, base)
    blocker = docker_client.containers.run(
        busybox_image,
        ["sleep", "600"],
        detach=True,
        name=f"paitest-{app_tag}-block",
        labels={"paitest": "hosts"},
        ports={"9/tcp": ("127.0.0.1", base)},
    )
    try:
        # base+1 is taken on THIS box only (``here``): the plan for gpubox uses it; base is
        # published by a container on gpubox's engine: skipped there.
        # Not on gpubox yet: pulled there first (into its store, from its Hub), then planned.
        model = "acme/tiny-gguf:tiny.Q4_K_M.gguf"
        planned = _plan(remote, catalog, "gpubox", _args(app_id, model=model))
        err = capsys.readouterr().err
        assert not isinstance(planned, int), err
        assert f"{model} is not on gpubox: pulling it there first" in err, err
        assert "gpubox: tiny.Q4_K_M.gguf: done, verified" in err, err
        assert (remote.store / "acme" / "tiny-gguf" / "tiny.Q4_K_M.gguf").stat().st_size
        plan, notes = planned
        assert [p.host_port for p in plan.ports] == [base + 1], plan.ports
        mounts = {m.target: m for m in plan.mounts}
        assert mounts["/models"].source == str(remote.store) and mounts["/models"].read_only
        assert plan.data_dir == str(remote.store.parent / "apps" / app_id)
        assert any("hardware from paitui there" in n for n in notes), notes
        assert any("apps data dir assumed" in n for n in notes), notes
        assert any("program outside any container is not seen" in n for n in notes), notes

        missing = _plan(remote, catalog, "gpubox", _args(app_id, model="acme/tiny-gguf:nope"))
        assert missing == 1
        err = capsys.readouterr().err
        assert "the pull of acme/tiny-gguf:nope failed" in err, err
        assert "no file of acme/tiny-gguf matches nope" in err, err

        # Without paitui there and no [hosts.bare] models_dir: refused, saying what to set.
        assert _plan(remote, catalog, "bare", _args(app_id)) == 2
        err = capsys.readouterr().err
        assert 'set [hosts.bare] models_dir = "/path/on/that/box"' in err, err
        assert "not installed on bare" in err
    finally:
        here.close()
        blocker.remove(force=True)

    # For real: the CLI starts it on gpubox's engine with that plan.
    t0 = time.monotonic()
    out = subprocess.run(
        [
            *(sys.executable, "-m", "paitui", "--config", str(remote.config)),
            *("--catalog", str(catalog), "start", app_id, "--host", "gpubox"),
            *("--model", "acme/tiny-gguf", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=remote.env,
        check=False,
    )
    start_s = time.monotonic() - t0
    try:
        assert out.returncode == 0, out.stderr
        row = json.loads(out.stdout)
        assert row["host"] == "gpubox" and row["ssh_tunnel"], row
        assert "root@gpubox" in row["ssh_tunnel"] and str(base) in row["ssh_tunnel"]
        assert "note: gpubox: hardware from paitui there" in out.stderr
        (container,) = docker_client.containers.list(filters={"label": f"paitui.app={app_id}"})
        binds = {m["Destination"]: m for m in container.attrs["Mounts"]}
        assert binds["/models"]["Source"] == str(remote.store) and not binds["/models"]["RW"]
        assert binds["/data"]["Source"] == str(remote.store.parent / "apps" / app_id)
        data = Path(binds["/data"]["Source"])
        assert (data.stat().st_uid, data.stat().st_gid) == (1999, 1999)
        assert not (tmp_path / "local-apps" / app_id).exists()
    finally:
        for c in docker_client.containers.list(all=True, filters={"label": f"paitui.app={app_id}"}):
            c.remove(force=True)
    print(f"\nstart --host gpubox (plan over ssh, start): {start_s:.2f} s")


def test_engine_only_box_says_what_is_missing(
    tmp_path: Path, remote: RemoteBox, busybox_image: str, app_tag: str
) -> None:
    app_id = f"{app_tag}-eo"
    catalog = _catalog(tmp_path, app_id, busybox_image, free_port())
    with remote.config.open("a") as config:  # the last table is [hosts.bare]: its dirs
        config.write('models_dir = "/srv/models"\napps_dir = "/srv/apps"\n')
    planned = _plan(remote, catalog, "bare", _args(app_id))
    assert not isinstance(planned, int)
    plan, notes = planned
    assert {m.target: m.source for m in plan.mounts}["/models"] == "/srv/models"
    assert plan.data_dir == f"/srv/apps/{app_id}"
    assert any("GPU facts are missing: GPU models and VRAM" in n for n in notes), notes
    assert any("not installed there" in n or "not found" in n for n in notes), notes
