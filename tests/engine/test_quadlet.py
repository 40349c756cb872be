"""``paitui quadlet``: the plan as a Podman Quadlet unit (renderer and the real command)."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paitui.domain.catalog.schema import App
from paitui.domain.launch.engine_plan import KEEP_GROUPS
from paitui.domain.launch.plan import GpuRequest
from paitui.domain.launch.planner import plan_launch
from paitui.domain.launch.quadlet import QuadletError, quadlet_unit, qualified_image
from tests.engine.test_engine_plan import KOBOLD, RUNNER, _box, _podman
from tests.engine.test_planner import AMD_BOX, NV_RUNTIME, RENDER, SETTINGS, STORE, VIDEO
from tests.engine.test_planner import apps as apps

REPO_ROOT = Path(__file__).resolve().parents[2]


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as (key, value) lists, comments dropped, values raw."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        assert current is not None, f"key outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {line!r}"
        current.append((key, value))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], key: str) -> list[str]:
    return [v for k, v in unit["Container"] if k == key]


def unsystemd(value: str) -> list[str]:
    """What systemd makes of a value: words unquoted, ``%%`` and ``$$`` single again."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(value)]


def test_a_rocm_app_on_rootless_podman(apps: dict[str, App]) -> None:
    box = _box(AMD_BOX, _podman(True), render=True, video=True)
    plan = plan_launch(apps["pai-koboldcpp"], AMD_BOX, SETTINGS, KOBOLD)  # planned for Docker
    assert plan.group_add == (str(VIDEO), str(RENDER))
    unit = quadlet_unit(plan, box, rootless=True)
    assert unit.name == "paitui-pai-koboldcpp.container"
    assert unit.service == "paitui-pai-koboldcpp.service"
    parsed = parse_unit(unit.text)
    assert values(parsed, "Image") == ["ghcr.io/futursolo/pai-apps/koboldcpp:rocm"]
    assert values(parsed, "ContainerName") == ["paitui-pai-koboldcpp"]
    (port,) = plan.ports
    assert values(parsed, "PublishPort") == [f"127.0.0.1:{port.host_port}:{port.container_port}"]
    assert f"{STORE}:/mnt/models:ro" in values(parsed, "Volume")
    assert values(parsed, "AddDevice") == ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"]
    # The numeric GIDs mean nothing in a rootless user namespace.
    assert values(parsed, "GroupAdd") == [KEEP_GROUPS]
    labels = dict(v.split("=", 1) for v in values(parsed, "Label"))
    assert labels == plan.labels
    assert values(parsed, "SeccompProfile") == ["unconfined"]
    assert values(parsed, "User") == ["1999:1999"]
    env = dict(v.split("=", 1) for v in values(parsed, "Environment"))
    assert env == plan.env
    assert values(parsed, "Entrypoint") == ["/opt/koboldcpp/koboldcpp"]
    (exec_,) = values(parsed, "Exec")
    assert unsystemd(exec_) == list(plan.command or ())
    assert dict(parsed["Service"])["Restart"] == "always"
    assert dict(parsed["Install"])["WantedBy"] == "default.target"
    assert unit.setup == () and unit.dirs == ()


def test_the_data_dir_is_made_and_given_to_the_image_user(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["pai-koboldcpp"], AMD_BOX, SETTINGS, KOBOLD)
    data = dataclasses.replace(plan, data_dir="/srv/apps/my app", data_uid=1999, data_gid=1998)
    made = "mkdir -p '/srv/apps/my app'"
    rootless = quadlet_unit(data, rootless=True)
    assert rootless.setup == (f"{made} && podman unshare chown 1999:1998 '/srv/apps/my app'",)
    assert rootless.dirs == ("/srv/apps/my app",)
    assert quadlet_unit(data).setup == (f"{made} && chown 1999:1998 '/srv/apps/my app'",)
    # Rootless, the container's root is the user: nothing to chown.
    as_root = dataclasses.replace(data, data_uid=0, data_gid=0)
    assert quadlet_unit(as_root, rootless=True).setup == (made,)
    assert all(f"# before the first start: {s}" in rootless.text for s in rootless.setup)


def test_nvidia_on_podman_is_an_added_cdi_device(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["livepeer-ai-runner"], NV_RUNTIME, SETTINGS, RUNNER)
    assert plan.device_requests[0].driver == "nvidia"
    unit = quadlet_unit(plan, _box(NV_RUNTIME, _podman(False)), rootless=False)
    parsed = parse_unit(unit.text)
    assert values(parsed, "AddDevice") == ["nvidia.com/gpu=all"]
    assert values(parsed, "Image") == ["docker.io/livepeer/ai-runner:latest"]
    assert "multi-user.target" in dict(parsed["Install"])["WantedBy"]
    # A unit is not the Docker API: no advice to fall back to one.
    assert not any("paitui quadlet" in w for w in unit.warnings)
    two = dataclasses.replace(plan, device_requests=(GpuRequest("nvidia", None, ("0", "1")),))
    parsed = parse_unit(quadlet_unit(two).text)
    assert values(parsed, "AddDevice") == ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]


@pytest.mark.parametrize(
    ("image", "qualified"),
    [
        ("ollama/ollama:latest", "docker.io/ollama/ollama:latest"),
        ("busybox", "docker.io/library/busybox"),
        ("ghcr.io/a/b:c", "ghcr.io/a/b:c"),
        ("127.0.0.1:5000/paitest/busybox:latest", "127.0.0.1:5000/paitest/busybox:latest"),
        ("localhost/x:1", "localhost/x:1"),
    ],
)
def test_images_are_fully_qualified(image: str, qualified: str) -> None:
    assert qualified_image(image) == qualified


def test_odd_values_survive_systemd(apps: dict[str, App]) -> None:
    plan = plan_launch(apps["pai-koboldcpp"], AMD_BOX, SETTINGS, KOBOLD)
    tricky = ("a b", "100%", "$HOME", 'say "hi"', "back\\slash", "it's", "")
    odd = dataclasses.replace(
        plan,
        command=tricky,
        env={"PLAIN": "x", "SPACED": "a b", "MONEY": "$5 and 10%", "QUOTE": "it's"},
    )
    unit = quadlet_unit(odd, rootless=False)
    parsed = parse_unit(unit.text)
    (exec_,) = values(parsed, "Exec")
    assert unsystemd(exec_) == list(tricky)
    # Only the plain value is written in the unit; the others go to the env file, as they are.
    assert values(parsed, "Environment") == ["PLAIN=x"]
    assert values(parsed, "EnvironmentFile") == ["paitui-pai-koboldcpp.env"]
    assert unit.files == (
        ("paitui-pai-koboldcpp.env", "SPACED=a b\nMONEY=$5 and 10%\nQUOTE=it's\n"),
    )
    with pytest.raises(QuadletError, match="line break"):
        quadlet_unit(dataclasses.replace(plan, env={"BAD": "two\nlines"}))


def _paitui(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PAITUI_HW_NVML="off")
    return subprocess.run(
        [sys.executable, "-m", "paitui.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def test_the_command_writes_the_unit_and_its_env_file(tmp_path: Path) -> None:
    out = tmp_path / "units"
    done = _paitui(
        "quadlet", "ollama", "--no-hw", "--rootful", "--env", "TOKEN=a$b c", "--dir", str(out),
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    unit_path = out / "paitui-ollama.container"
    assert data["path"] == str(unit_path) and not data["rootless"]
    assert data["written"] == [str(out / "paitui-ollama.env"), str(unit_path)]
    assert unit_path.read_text() == data["unit"]
    assert (out / "paitui-ollama.env").read_text() == "TOKEN=a$b c\n"
    parsed = parse_unit(data["unit"])
    assert values(parsed, "PublishPort")[0].startswith("127.0.0.1:")
    assert values(parsed, "EnvironmentFile") == ["paitui-ollama.env"]
    assert sorted(p.name for p in out.iterdir()) == ["paitui-ollama.container", "paitui-ollama.env"]
    # Human output and stdout: the same unit.
    shown = _paitui("quadlet", "ollama", "--no-hw", "--rootful", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout == data["unit"].replace(
        "EnvironmentFile=paitui-ollama.env\n", ""
    )


def test_the_command_says_what_is_wrong(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = _paitui("quadlet", "ollama", "--no-hw", "--dir", str(blocker / "units"), cwd=tmp_path)
    assert done.returncode == 1
    assert "cannot write" in done.stderr and "--dir" in done.stderr
    assert blocker.read_text() == "not a directory"
    broken = _paitui("quadlet", "ollama", "--no-hw", "--env", "X=a\nb", cwd=tmp_path)
    assert broken.returncode == 2 and "line break" in broken.stderr and not broken.stdout
    unknown = _paitui("quadlet", "no-such-app", "--no-hw", cwd=tmp_path)
    assert unknown.returncode == 2 and "no app 'no-such-app'" in unknown.stderr


#: Quadlet's documented [Container] keys per Podman release (read from containers/podman's
#: podman-systemd.unit.5.md at each tag; Debian 12's Podman 4.3.1 has no quadlet to ask).
QUADLET_KEYS: dict[str, list[str]] = json.loads(
    (Path(__file__).with_name("quadlet_keys.json")).read_text()
)["container_keys"]


def _units(apps: dict[str, App]) -> list[str]:
    """Every kind of unit the renderer writes: rootless ROCm, rootful NVIDIA, odd values, a
    data dir, seccomp and shm options."""
    amd = plan_launch(apps["pai-koboldcpp"], AMD_BOX, SETTINGS, KOBOLD)
    nvidia = plan_launch(apps["livepeer-ai-runner"], NV_RUNTIME, SETTINGS, RUNNER)
    odd = dataclasses.replace(
        amd,
        command=("a b", "100%", "$HOME"),
        env={"PLAIN": "x", "SPACED": "a b"},
        data_dir="/srv/apps/x",
        data_uid=1999,
        shm_size="8g",
        security_opt=("label=disable", "seccomp=unconfined"),
    )
    return [
        quadlet_unit(
            amd, _box(AMD_BOX, _podman(True), render=True, video=True), rootless=True
        ).text,
        quadlet_unit(nvidia, _box(NV_RUNTIME, _podman(False)), rootless=False).text,
        quadlet_unit(odd, rootless=False).text,
    ]


def test_every_container_key_is_one_quadlet_documents(apps: dict[str, App]) -> None:
    """The [Container] keys, checked against Quadlet's own documentation: a key it does not
    know would make the generator drop the unit; the oldest release that reads them all is
    the Podman paitui quadlet needs."""
    used = {k for text in _units(apps) for k, _v in parse_unit(text)["Container"]}
    assert {"Image", "AddDevice", "GroupAdd", "Volume", "PublishPort"} <= used
    newest = max(QUADLET_KEYS, key=lambda t: tuple(int(x) for x in t[1:].split(".")))
    unknown = used - set(QUADLET_KEYS[newest])
    assert not unknown, f"not Quadlet keys (as of Podman {newest}): {sorted(unknown)}"
    reads_all = sorted(
        (t for t, keys in QUADLET_KEYS.items() if used <= set(keys)),
        key=lambda t: tuple(int(x) for x in t[1:].split(".")),
    )
    # GroupAdd (keep-groups for rootless GPUs) came with Podman 5.1: the floor to document.
    assert reads_all[0] == "v5.1.0", (reads_all, used - set(QUADLET_KEYS["v5.0.0"]))


def test_systemd_accepts_the_unit_and_service_sections(
    apps: dict[str, App], tmp_path: Path
) -> None:
    """Quadlet copies [Unit], [Service] and [Install] into the .service as they are: systemd's
    own ``systemd-analyze verify`` reads them (with the ExecStart Quadlet adds) and must find
    no unknown key or bad value."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian: the systemd package)"
    for i, text in enumerate(_units(apps)):
        sections = parse_unit(text)
        lines = []
        for name in ("Unit", "Service", "Install"):
            lines.append(f"[{name}]")
            lines += [f"{k}={v}" for k, v in sections.get(name, [])]
            if name == "Service":
                lines.append("ExecStart=/bin/true")
        service = tmp_path / f"paitui-unit{i}.service"
        service.write_text("\n".join(lines) + "\n")
        done = subprocess.run(
            [analyze, "verify", str(service)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        complaints = [line for line in done.stderr.splitlines() if service.name in line]
        assert done.returncode == 0 and not complaints, (done.stderr, service.read_text())
    # And it does complain: the check is not blind.
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nRestartt=always\n")
    done = subprocess.run(
        [analyze, "verify", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Unknown key 'Restartt'" in done.stderr, done.stderr
