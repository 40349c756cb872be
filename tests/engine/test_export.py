"""Compose and docker run exports: the compose text parses back to the same plan; the run line
carries the same flags, and the CLI prints both."""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
import sys

import pytest
import yaml

from paitui.domain.catalog.schema import App
from paitui.domain.launch.export import compose_text, plan_from_compose, run_argv, run_line
from paitui.domain.launch.plan import LaunchChoices, LaunchPlan
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.files import bundled_catalog_path
from paitui.services.catalog.loader import load_file
from tests.engine.test_planner import AMD_BOX, INTEL_BOX, NV_CDI, NV_RUNTIME, SETTINGS

CASES = [
    ("pai-koboldcpp", AMD_BOX, LaunchChoices(model_file="q.gguf")),
    ("pai-koboldcpp", AMD_BOX, LaunchChoices(variant="vulkan", model_file="q.gguf")),
    ("pai-comfyui", AMD_BOX, LaunchChoices()),
    ("pai-comfyui", INTEL_BOX, LaunchChoices()),
    ("pai-ollama-intel", INTEL_BOX, LaunchChoices()),
    ("sd-webui-rx5500", AMD_BOX, LaunchChoices(gpu="0000:03:00.0")),
    ("livepeer-ai-runner", NV_RUNTIME, LaunchChoices(model_id="a/b", env={"PIPELINE": "llm"})),
    ("livepeer-ai-runner", NV_CDI, LaunchChoices(model_id="a/b", env={"PIPELINE": "llm"})),
    (
        "livepeer-ai-runner",
        NV_RUNTIME,
        LaunchChoices(model_id="a/b", env={"PIPELINE": "llm"}, gpu="0000:01:00.0"),
    ),
    ("runai", NV_RUNTIME, LaunchChoices(source_dir="/src/runai")),
]


@pytest.fixture(scope="module")
def apps() -> dict[str, App]:
    return {a.id: a for a in load_file(bundled_catalog_path())[0]}


def _plans(apps: dict[str, App]) -> list[LaunchPlan]:
    return [plan_launch(apps[i], hw, SETTINGS, c, taken_ports={8188}) for i, hw, c in CASES]


def test_compose_parses_back_to_the_same_plan(apps: dict[str, App]) -> None:
    for plan in _plans(apps):
        text = compose_text(plan)
        back = plan_from_compose(text)
        assert back == dataclasses.replace(plan, warnings=()), plan.app_id
        for warning in plan.warnings:
            assert f"# note: {warning}" in text


def test_compose_uses_compose_spellings(apps: dict[str, App]) -> None:
    kobold, _, comfy, *_rest = _plans(apps)
    svc = yaml.safe_load(compose_text(kobold))["services"]["pai-koboldcpp"]
    assert svc["devices"] == ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"]
    assert svc["group_add"] == ["44", "993"]
    assert svc["security_opt"] == ["seccomp=unconfined"]
    assert svc["ports"] == ["127.0.0.1:5001:5001/tcp"]
    assert svc["volumes"] == [
        {"type": "bind", "source": "/srv/models", "target": "/mnt/models", "read_only": True}
    ]
    assert svc["restart"] == "unless-stopped" and svc["container_name"] == "paitui-pai-koboldcpp"
    runner = next(p for p in _plans(apps) if p.app_id == "livepeer-ai-runner")
    gpu = yaml.safe_load(compose_text(runner))["services"]["livepeer-ai-runner"]["deploy"]
    assert gpu == {
        "resources": {
            "reservations": {
                "devices": [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
            }
        }
    }
    text = compose_text(comfy)
    assert "mkdir -p /srv/apps/pai-comfyui && sudo chown 1999:1999 /srv/apps/pai-comfyui" in text
    assert "8189" in yaml.safe_load(text)["services"]["pai-comfyui"]["ports"][0]


def test_run_line_flags(apps: dict[str, App]) -> None:
    plans = _plans(apps)
    kobold = plans[0]
    argv = shlex.split(run_line(kobold).splitlines()[-1])
    assert argv == run_argv(kobold)
    joined = " ".join(argv)
    for flag in (
        "--device /dev/kfd:/dev/kfd:rwm",
        "--device /dev/dri:/dev/dri:rwm",
        "--group-add 44",
        "--group-add 993",
        "--security-opt seccomp=unconfined",
        "-p 127.0.0.1:5001:5001/tcp",
        "-v /srv/models:/mnt/models:ro",
        "--user 1999:1999",
        "--restart unless-stopped",
        "--label paitui.managed=true",
        "--entrypoint /opt/koboldcpp/koboldcpp",
    ):
        assert flag in joined, flag
    assert argv[-9:] == [
        "ghcr.io/futursolo/pai-apps/koboldcpp:rocm",
        "--contextsize",
        "8192",
        "--model",
        "/mnt/models/q.gguf",
        "--usecublas",
        "--port",
        "5001",
        "--quiet",
    ]
    sd = plans[5]
    joined = " ".join(run_argv(sd))
    assert "--ipc host" in joined and "--cap-add SYS_PTRACE" in joined
    assert "--device /dev/dri/card1:/dev/dri/card1:rwm" in joined
    nv_all, nv_cdi, nv_one = plans[6], plans[7], plans[8]
    assert "--gpus all" in " ".join(run_argv(nv_all))
    assert "--device nvidia.com/gpu=all" in " ".join(run_argv(nv_cdi))
    assert '--gpus "device=0"' in " ".join(run_argv(nv_one))
    comfy = run_line(plans[2]).splitlines()
    assert (
        comfy[0] == "mkdir -p /srv/apps/pai-comfyui && sudo chown 1999:1999 /srv/apps/pai-comfyui"
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PAITUI_HW_DOCKER": "none", **_env()},
    )


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_cli_compose_and_run_cmd() -> None:
    out = _cli("compose", "pai-koboldcpp", "--variant", "vulkan", "--model", "a/b.gguf", "--no-hw")
    assert out.returncode == 0, out.stderr
    plan = plan_from_compose(out.stdout)
    assert plan.variant == "vulkan" and plan.devices[0].host == "/dev/dri"
    assert "/mnt/models/a/b.gguf" in (plan.command or ())
    out = _cli("run-cmd", "pai-koboldcpp", "--variant", "rocm", "--model", "a.gguf", "--no-hw")
    assert out.returncode == 0, out.stderr
    assert "docker run -d --name paitui-pai-koboldcpp" in out.stdout
    assert "--device /dev/kfd:/dev/kfd:rwm" in out.stdout
    bad = _cli("compose", "pai-koboldcpp", "--no-hw", "--variant", "rocm")
    assert bad.returncode == 2
    assert "needs a model file" in bad.stderr and "fix:" in bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = _cli("run-cmd", "no-such-app", "--no-hw")
    assert unknown.returncode == 2 and "no app 'no-such-app'" in unknown.stderr
