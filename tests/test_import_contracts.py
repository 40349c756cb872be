"""The static import contracts in pyproject.toml break when a forbidden import appears.

scripts/test.sh runs ``lint-imports`` on the real tree. Here each contract is shown to bite: a
copy of the package gets one offending module (the import may hide in a function body or behind
another module: the check is static and transitive) and ``lint-imports`` must name that contract
and fail. The untouched copy is the control: it must pass, so a failure comes from the import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

LAYERS = "Layers: cli over ui over services over domain"
PURE = "The domain is pure"
NO_TEXTUAL = "Services know nothing of Textual"
WIDGETS = "Widgets only render"
ACYCLIC = "No import cycles between the concerns of domain and of services"
CONTRACTS = (LAYERS, PURE, NO_TEXTUAL, WIDGETS, ACYCLIC)

#: (module to add, its source, the contracts that must break).
CASES: list[tuple[str, str, set[str]]] = [
    ("paitui/domain/zz_bad.py", "def f() -> None:\n    import textual\n", {PURE}),
    ("paitui/domain/zz_bad.py", "import paitui.services.engine.client\n", {LAYERS, PURE}),
    ("paitui/domain/zz_bad.py", "import yaml, pydantic, paitui.settings\n", set()),
    ("paitui/services/zz_bad.py", "from paitui.ui import app\n", {LAYERS, NO_TEXTUAL}),
    ("paitui/services/zz_bad.py", "from textual.widgets import Static\n", {NO_TEXTUAL}),
    ("paitui/ui/zz_bad.py", "import paitui.cli.main\n", {LAYERS}),
    ("paitui/ui/widgets/zz_bad.py", "import httpx\n", {WIDGETS}),
    # Transitive: the service itself imports docker.
    ("paitui/ui/widgets/zz_bad.py", "from paitui.services.engine import client\n", {WIDGETS}),
    ("paitui/domain/catalog/zz_bad.py", "import paitui.domain.launch.planner\n", {ACYCLIC}),
    ("paitui/services/models/zz_bad.py", "import paitui.services.serve.web\n", set()),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package and its pyproject.toml, to add offending modules to."""
    root = tmp_path_factory.mktemp("contracts")
    shutil.copytree(ROOT / "paitui", root / "paitui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def broken_contracts(root: Path) -> tuple[int, set[str]]:
    """Run lint-imports on ``root``; its exit code and the names of the broken contracts."""
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    broken = {
        line.rsplit(" BROKEN", 1)[0].strip()
        for line in done.stdout.splitlines()
        if " BROKEN" in line
    }
    return done.returncode, broken


def test_the_untouched_tree_keeps_every_contract(tree: Path) -> None:
    rc, broken = broken_contracts(tree)
    assert (rc, broken) == (0, set())


@pytest.mark.parametrize(("module", "source", "expected"), CASES)
def test_an_offending_import_breaks_its_contract(
    tree: Path, module: str, source: str, expected: set[str]
) -> None:
    path = tree / module
    path.write_text(source)
    try:
        rc, broken = broken_contracts(tree)
    finally:
        path.unlink()
    named = {want for want in CONTRACTS for name in broken if name.startswith(want)}
    assert named == expected and len(broken) == len(expected)
    assert rc == (1 if expected else 0)
