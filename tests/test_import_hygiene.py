"""Import hygiene: start-up loads nothing heavy, and the layers import only what they may.

Each check runs in a fresh interpreter (``sys.modules`` of the test process already holds
everything the other tests imported). Widgets are also checked statically, so an import hidden
in a function body that no test calls is still caught.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import paitui.domain
import paitui.services

ROOT = Path(__file__).resolve().parents[1]
#: Loaded only by the screen or command that needs them (each costs tens of ms at start-up).
HEAVY = ("docker", "huggingface_hub", "pyudev", "httpx")
#: What a widget only renders, so it never talks to the engine, the hub, udev or the network.
WIDGET_FORBIDDEN = ("docker", "httpx", "pyudev", "huggingface_hub", "paitui.services")

_PROBE = r"""
import importlib, json, sys
watched = {watched!r}
report = []
for step in {steps!r}:
    module, _, call = step.partition(":")
    mod = importlib.import_module(module)
    if call:
        getattr(mod, call)()
    loaded = sorted(w for w in watched if w in sys.modules)
    report.append([step, loaded])
print(json.dumps(report))
"""


def loaded_after(steps: list[str], watched: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Import each ``module`` (or call ``module:function``) in turn in a fresh interpreter.

    Returns, per step, which of ``watched`` are in ``sys.modules`` after it.
    """
    code = _PROBE.format(watched=list(watched), steps=steps)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return [(step, loaded) for step, loaded in json.loads(out.stdout.strip().splitlines()[-1])]


def submodules(package: object) -> list[str]:
    path = package.__path__  # type: ignore[attr-defined]
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    # Recursive: the layers are packages of packages (domain/<concern>/, services/<concern>/).
    return sorted(info.name for info in pkgutil.walk_packages(path, prefix))


def first_offender(report: list[tuple[str, list[str]]]) -> dict[str, str]:
    """For each watched module that got loaded, the step that loaded it first."""
    blamed: dict[str, str] = {}
    for step, loaded in report:
        for name in loaded:
            blamed.setdefault(name, step)
    return blamed


def test_the_probe_sees_a_heavy_import() -> None:
    """The run-time check reports what a step loads (so an empty report means something)."""
    report = loaded_after(["paitui.domain.fleet.status", "docker.errors"], ("docker",))
    assert report == [("paitui.domain.fleet.status", []), ("docker.errors", ["docker"])]


def test_start_up_path_imports_nothing_heavy() -> None:
    """``paitui`` builds its parser and imports the app without docker, the hub, udev or httpx."""
    steps = [
        "paitui.cli.main",
        "paitui.cli.main:build_parser",
        "paitui.cli.common",
        "paitui.ui.app",
    ]
    blamed = first_offender(loaded_after(steps, HEAVY))
    assert blamed == {}, f"heavy modules loaded at start-up (module: first step): {blamed}"


def test_domain_imports_nothing_heavy_and_no_textual() -> None:
    modules = submodules(paitui.domain)
    assert "paitui.domain.catalog.schema" in modules
    blamed = first_offender(loaded_after(modules, (*HEAVY, "textual")))
    assert blamed == {}, f"the domain layer loads (module: first importer): {blamed}"


def test_services_never_import_textual() -> None:
    modules = submodules(paitui.services)
    assert "paitui.services.engine.client" in modules
    blamed = first_offender(loaded_after(modules, ("textual",)))
    assert blamed == {}, f"a service imports Textual: {blamed}"


def test_settings_and_registry_never_import_textual() -> None:
    blamed = first_offender(
        loaded_after(["paitui.settings", "paitui.services.registry"], ("textual",))
    )
    assert blamed == {}, blamed


def widget_files() -> list[Path]:
    files = sorted((ROOT / "paitui" / "ui" / "widgets").glob("*.py"))
    assert files, "no widget modules found"
    return files


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` statement anywhere in the file names, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
            # ``from paitui import services`` names the package through the alias.
            names.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return names


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in WIDGET_FORBIDDEN)


@pytest.mark.parametrize("path", widget_files(), ids=lambda p: p.name)
def test_widget_source_imports_no_io(path: Path) -> None:
    bad = [
        f"{path.name}:{line} imports {name}"
        for line, name in imported_names(path)
        if forbidden(name)
    ]
    assert bad == [], "widgets only render and post messages: " + "; ".join(bad)


def test_static_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The AST walk sees imports in function bodies and in ``from x import y`` forms."""
    sample = tmp_path / "w.py"
    sample.write_text(
        "import os\n"
        "def f():\n"
        "    import docker.errors\n"
        "from paitui import services\n"
        "from paitui.domain.fleet.status import AppState\n"
    )
    hits = sorted(name for _, name in imported_names(sample) if forbidden(name))
    assert hits == ["docker.errors", "paitui.services"]


def test_widgets_load_no_io_modules_at_run_time() -> None:
    modules = [f"paitui.ui.widgets.{p.stem}" for p in widget_files() if p.stem != "__init__"]
    blamed = first_offender(loaded_after(modules, WIDGET_FORBIDDEN))
    assert blamed == {}, f"importing widgets loads (module: first widget): {blamed}"
