"""``paitui catalog`` and ``paitui catalog check``, run as the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paitui.cli.main import main
from paitui.services.catalog.files import bundled_catalog_path

GOOD = """\
apps:
  - id: mine
    name: Mine
    description: d
    kind: llm
    variants:
      cpu: {image: "example/mine:1.0"}
"""
BROKEN = """\
apps:
  - id: mine
    name: Mine
    description: d
    kind: chat
    variants:
      gpu: {image: x}
"""


def paitui(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m paitui`` with the test's isolated config dir."""
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_check_reports_every_issue_with_its_location(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    result = paitui("catalog", "check", str(broken))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{broken}:5:11 (app mine): kind: Input should be 'llm', 'image', 'video', 'audio', "
        "'ui' or 'other' (got 'chat')",
        f"{broken}:7:7 (app mine): variants.gpu: unknown variant name 'gpu': expected one of "
        "cpu, cuda, intel, ipex, rocm, sycl, vulkan, xpu, optionally with a '-flavour' suffix "
        "(e.g. cuda-llm)",
    ]
    assert "Traceback" not in result.stderr


def test_check_malformed_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("apps:\n  - id: [x\n")
    missing = tmp_path / "missing.yml"
    result = paitui("catalog", "check", str(bad), str(missing))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}:3:1: not valid YAML: ")
    assert lines[1] == f"{missing}: file not found"


def test_check_good_files(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(GOOD)
    result = paitui("catalog", "check", str(bundled_catalog_path()), str(good))
    # vLLM's XPU image runs privileged (as upstream documents): loud, but not a failure.
    assert result.returncode == 0
    *warnings, summary = result.stdout.splitlines()
    assert len(warnings) == 1
    assert "(app vllm): warning: variants.xpu.privileged: privileged: true" in warnings[0]
    assert summary == "17 apps OK; 1 setting grants the container the host (see above)"


def test_check_json(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    result = paitui("catalog", "check", "--json", str(broken))
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["apps"] == 0
    assert [(i["line"], i["column"], i["app_id"], i["field"]) for i in data["issues"]] == [
        (5, 11, "mine", "kind"),
        (7, 7, "mine", "variants.gpu"),
    ]


def test_list_shows_apps_and_pinned_stacks() -> None:
    result = paitui("catalog")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "KIND", "VARIANTS"]
    assert any(line.startswith("pai-koboldcpp ") and "rocm, vulkan" in line for line in lines)
    # The build date of a Pai tag is in no upstream file: said so, never made up.
    assert "    rocm    1.117.1 · ROCm 7.2.4 · build date unverified" in lines
    assert lines[-1] == "16 apps"
    assert all(len(line) <= 100 for line in lines)


def test_list_json_with_overlay_and_issue(tmp_path: Path) -> None:
    config = Path(os.environ["PAITUI_CONFIG_DIR"])
    (config / "catalog.d").mkdir(parents=True)
    (config / "catalog.d" / "broken.yml").write_text(BROKEN)
    extra = tmp_path / "extra.yml"
    extra.write_text(GOOD)
    result = paitui("--catalog", str(extra), "catalog", "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    by_id = {a["id"]: a for a in data["apps"]}
    assert by_id["mine"]["source"] == str(extra)
    kobold = by_id["pai-koboldcpp"]["variants"][0]
    assert (kobold["name"], kobold["accel"]) == ("rocm", "rocm")
    assert kobold["stack"] == "1.117.1 · ROCm 7.2.4 · build date unverified"
    assert len(data["issues"]) == 2
    # Issues also go to stderr, one line each, with their location.
    broken = config / "catalog.d" / "broken.yml"
    assert f"{broken}:5:11 (app mine): kind:" in result.stderr
    assert f"{broken}:7:7 (app mine): variants.gpu:" in result.stderr


def test_list_fails_only_when_no_app_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The bundled file always loads, so stand a broken file in for it (in-process).
    import paitui.services.catalog.files as files

    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    monkeypatch.setattr(files, "bundled_catalog_path", lambda: broken)
    assert main(["catalog"]) == 1
    err = capsys.readouterr().err
    assert f"{broken}:5:11 (app mine): kind:" in err
    assert "no app could be loaded" in err and "paitui catalog check FILE" in err
