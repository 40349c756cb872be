"""``paitui hosts`` and ``ls/stop --host`` as a user runs them: the real CLI in a subprocess,
config.toml with ``[hosts.NAME]``, a second dockerd, a real sshd, and docker contexts made by the
docker CLI itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from paitui.services.fleet.host_list import load_hosts
from paitui.settings import Settings, load_settings
from tests.engine.second_dockerd import SecondDockerd
from tests.hosts.conftest import REPO, run_managed
from tests.hosts.sshd import SshBox


def paitui(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_docker_contexts_made_by_the_docker_cli(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path / "docker"), "PATH": os.environ["PATH"]}

    def docker(*args: str) -> None:
        subprocess.run(["docker", *args], env=env, check=True, capture_output=True, timeout=30)

    docker("context", "create", "gpu1", "--docker", "host=ssh://ana@gpu1.lan:2222")
    docker("context", "create", "tcpbox", "--docker", "host=tcp://10.0.0.9:2375")
    hosts = load_hosts(Settings(), env)
    assert hosts.names == ["local", "gpu1", "tcpbox"] and not hosts.problems
    gpu1 = hosts.get("gpu1")
    assert gpu1 is not None and (gpu1.ssh_destination, gpu1.ssh_port) == ("ana@gpu1.lan", 2222)
    docker("context", "use", "gpu1")
    hosts = load_hosts(Settings(), env)
    # `docker context use` makes gpu1 the engine paitui uses; the default socket is not a host.
    assert hosts.names == ["gpu1", "tcpbox"] and hosts.hosts[0].current
    broken = tmp_path / "docker" / "contexts" / "meta" / "0bad" / "meta.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    assert any("cannot read it" in p for p in load_hosts(Settings(), env).problems)


def test_hosts_table_in_config_toml(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[hosts.gpu1]\nendpoint = "ssh://ana@gpu1"\n[hosts.bad]\nendpoint = "gpu1:22"\n'
    )
    settings = load_settings(config, {})
    assert not settings.problems
    hosts = load_hosts(settings, {})
    assert hosts.names == ["local", "gpu1"]
    assert hosts.problems == (
        "[hosts.bad]: endpoint 'gpu1:22' is not unix:///path, ssh://[user@]host[:port] or "
        "tcp://host:port; skipped",
    )
    config.write_text('hosts = "ssh://gpu1"\n')
    assert "hosts must be [hosts.NAME] tables" in load_settings(config, {}).problems[0]


@pytest.mark.docker
def test_cli_across_a_second_dockerd_and_an_ssh_box(
    tmp_path: Path,
    d2: SecondDockerd,
    sshbox: SshBox,
    registry: str,
    app_tag: str,
) -> None:
    import docker

    config = tmp_path / "config.toml"
    config.write_text(
        f'models_dir = "{tmp_path / "m"}"\napps_dir = "{tmp_path / "a"}"\n'
        f'[hosts.d2]\nendpoint = "{d2.host}"\n'
        f'[hosts.box]\nendpoint = "{sshbox.endpoint}"\npaitui = "{sys.executable} -m paitui"\n'
        f'[hosts.bare]\nendpoint = "{sshbox.endpoint}"\npaitui = "paitui-not-installed-here"\n'
        '[hosts.typo]\nendpont = "ssh://x"\n'
    )
    cfg = ("--config", str(config))
    client = docker.DockerClient(base_url=d2.host, timeout=30)
    made: list[Any] = []
    try:
        client.images.pull(f"{registry}/paitest/busybox", tag="latest")
        app = f"{app_tag}-cli"
        made.append(run_managed(client, f"{registry}/paitest/busybox:latest", app))

        t0 = time.monotonic()
        out = paitui(*cfg, "hosts", "--json", "--hw")
        hosts_s = time.monotonic() - t0
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        by_name = {h["name"]: h for h in data["hosts"]}
        assert list(by_name) == ["local", "d2", "box", "bare"]
        assert all(h["reachable"] and h["version"] for h in by_name.values()), by_name
        assert "[hosts.typo]: unknown keys endpont" in data["problems"][0]
        assert by_name["box"]["hardware"]["source"] == "paitui on the box"
        bare = by_name["bare"]["hardware"]
        assert bare["source"] == "engine only" and "GPU models and VRAM" in bare["missing"]
        assert "not installed there" in bare["notes"][0]
        assert bare["runtimes"], bare

        out = paitui(*cfg, "ls", "--json")
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)
        assert {"host": "d2", "app": app} in [{"host": r["host"], "app": r["app"]} for r in rows]
        assert all(r["app"] != app for r in rows if r["host"] != "d2")

        out = paitui(*cfg, "ls", "--host", "d2")
        assert out.returncode == 0, out.stderr
        header, *lines = out.stdout.splitlines()
        assert header.split()[:3] == ["HOST", "APP", "STATE"]
        assert any(line.split()[:3] == ["d2", app, "ready"] for line in lines), out.stdout

        out = paitui(*cfg, "ls", "--host", "nope")
        assert out.returncode == 1 and "no host 'nope'; known hosts: local, d2, box" in out.stderr

        # A frozen engine accepts connections and never answers: it must not hold up ls.
        d2.freeze()
        t0 = time.monotonic()
        out = paitui(*cfg, "ls", "--json", "--timeout", "2")
        frozen_s = time.monotonic() - t0
        # One host away is marked, not fatal: exit 0 (a stale docker context must not fail ls).
        assert out.returncode == 0 and "host d2 unreachable" in out.stderr, out.stderr
        rows = json.loads(out.stdout)
        away = [r for r in rows if r["host"] == "d2"]
        assert away and all(r["app"] is None and r["host_unreachable"] for r in away), rows
        assert frozen_s < 10, frozen_s
        strict = paitui(*cfg, "ls", "--strict", "--timeout", "2")
        assert strict.returncode == 1 and any(
            line.split()[:3] == ["d2", "?", "unreachable"] for line in strict.stdout.splitlines()
        ), strict.stdout
        named = paitui(*cfg, "ls", "--host", "d2", "--timeout", "2")
        d2.thaw()
        assert named.returncode == 1 and "host d2 unreachable" in named.stderr, named.stderr

        out = paitui(*cfg, "stop", app, "--host", "d2", "--timeout", "5")
        assert out.returncode == 0 and f"stopped {app} on d2" in out.stdout, out.stderr
        assert client.containers.get(made[0].id).status == "exited"
        out = paitui(*cfg, "stop", app, "--host", "local")
        assert out.returncode == 1 and "local:" in out.stderr
        print(f"\nhosts --hw: {hosts_s:.2f} s; ls with d2 frozen: {frozen_s:.2f} s")
    finally:
        d2.thaw()
        for container in made:
            container.remove(force=True)
        client.close()


@pytest.mark.docker
def test_start_on_a_named_host_runs_there_only(
    tmp_path: Path, d2: SecondDockerd, registry: str, docker_client: Any, app_tag: str
) -> None:
    import docker

    from tests.engine.conftest import stand_in_app

    image = f"{registry}/paitest/busybox:latest"
    app_id = f"{app_tag}-start"
    entry = stand_in_app(app_id, image, data=False).model_dump(mode="json", exclude_none=True)
    catalog = tmp_path / "extra.yml"
    catalog.write_text(json.dumps({"apps": [entry]}))
    config = tmp_path / "config.toml"
    config.write_text(
        f'models_dir = "{tmp_path / "m"}"\napps_dir = "{tmp_path / "a"}"\n'
        f'[hosts.d2]\nendpoint = "{d2.host}"\n'
    )
    client = docker.DockerClient(base_url=d2.host, timeout=30)
    try:
        t0 = time.monotonic()
        out = paitui(
            "--config",
            str(config),
            "--catalog",
            str(catalog),
            "start",
            app_id,
            "--host",
            "d2",
            "--no-hw",
            "--json",
            timeout=120,
        )
        start_s = time.monotonic() - t0
        assert out.returncode == 0, out.stderr
        row = json.loads(out.stdout)
        assert row["host"] == "d2" and row["app"] == app_id and row["links"], row
        here = client.containers.list(filters={"label": f"paitui.app={app_id}"})
        assert len(here) == 1 and here[0].status == "running"
        assert not docker_client.containers.list(
            all=True, filters={"label": f"paitui.app={app_id}"}
        )
        print(f"\nstart --host d2 (pull included): {start_s:.2f} s")
    finally:
        for c in client.containers.list(all=True, filters={"label": f"paitui.app={app_id}"}):
            c.remove(force=True)
        client.close()
