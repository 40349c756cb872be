"""A plain ``paitui`` paints before it imports the commands and the catalog schema.

Checked in a fresh interpreter (this process has imported everything already): the path the
launch takes up to the Desktop's first frame, and which arguments take it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from paitui.cli.main import _ui_launch

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
from paitui.cli import main
args = main._ui_launch([])
import paitui.cli.common, paitui.ui.app, paitui.ui.screens.home
watched = ("paitui.cli.", "paitui.domain.catalog", "pydantic")
print(json.dumps(sorted(m for m in sys.modules if m.startswith(watched))))
"""


def test_the_launch_path_imports_no_command_and_no_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == ["paitui.cli.common", "paitui.cli.main"]


_SCREENS_PROBE = """
import json, sys
import paitui.ui.app, paitui.ui.screens.home, paitui.ui.screens.running
from paitui.services.registry import Services
from paitui.settings import load_settings
services = Services(load_settings())
services.catalog_preview(services.catalog_fingerprint() or "")
print(json.dumps(sorted(m for m in ("pydantic", "yaml", "docker") if m in sys.modules)))
"""


def test_the_preview_and_the_first_screens_need_no_schema_and_no_yaml() -> None:
    # Key 5 at the first frame shows the Running screen, named from the preview: none of it
    # may wait for pydantic, YAML or the SDK.
    out = subprocess.run(
        [sys.executable, "-c", _SCREENS_PROBE], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(
    ("argv", "ui"),
    [
        ([], True),
        (["--demo"], True),
        (["--catalog", "a.yml", "--cat", "b.yml", "--config", "c.toml"], True),
        (["ls"], False),
        (["--help"], False),
        (["-h"], False),
        (["--version"], False),
        (["--catalog"], False),  # the full parser says what is missing
        (["--demo", "nonsense"], False),
    ],
)
def test_only_a_plain_launch_skips_the_full_parser(argv: list[str], ui: bool) -> None:
    args = _ui_launch(argv)
    assert (args is not None) == ui
    if args is not None and "--catalog" in argv:
        assert args.catalog == ["a.yml", "b.yml"] and args.config == "c.toml"


def test_httpx_comes_without_its_command_line_tool() -> None:
    code = (
        "import sys, paitui.services.registry, httpx\n"
        "client = httpx.Client(verify=False)\n"
        "print(sorted(m for m in ('click', 'pygments', 'httpx._main') if sys.modules.get(m)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
