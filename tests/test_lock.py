"""requirements-test.lock stays in step with pyproject.toml (scripts/lock.sh refreshes it).

scripts/test.sh installs the lock with ``--require-hashes``; a requirement added to pyproject.toml
but not to the lock would only fail there, late. Here every runtime and test requirement must be
pinned by the lock to a version its specifier allows, and every pin must carry hashes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


@dataclass
class Pin:
    version: Version
    marker: str | None
    hashes: int = 0


def lock_pins(text: str) -> dict[str, list[Pin]]:
    """Each pinned name: its entries (one per marker where the lock splits a name)."""
    pins: dict[str, list[Pin]] = {}
    pin: Pin | None = None
    for line in text.splitlines():
        if match := PIN.match(line):
            name, version, marker = match.groups()
            pin = Pin(Version(version), marker)
            pins.setdefault(canonicalize_name(name), []).append(pin)
        elif line.strip().startswith("--hash=sha256:") and pin is not None:
            pin.hashes += 1
        elif line and not line.startswith((" ", "#")):
            raise AssertionError(f"unexpected line in the lock: {line!r}")
    return pins


def test_lock_pins_reads_pins_markers_and_hashes() -> None:
    text = (
        "a-b==1.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
        "c==2.0 ; python_full_version < '3.12' \\\n    --hash=sha256:cc\n"
    )
    assert lock_pins(text) == {
        "a-b": [Pin(Version("1.0"), None, 2)],
        "c": [Pin(Version("2.0"), "python_full_version < '3.12'", 1)],
    }
    with pytest.raises(AssertionError, match="unexpected line"):
        lock_pins("-e .\n")


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    return [Requirement(spec) for spec in wanted]


def test_every_requirement_is_locked_to_an_allowed_version_with_hashes() -> None:
    pins = lock_pins((ROOT / "requirements-test.lock").read_text())
    assert "paitui" not in pins  # the package itself is installed editable, outside the lock
    for req in requirements():
        entries = pins.get(canonicalize_name(req.name))
        assert entries, f"{req.name} is in pyproject.toml but not in the lock: bash scripts/lock.sh"
        # The entry this interpreter would install (a marker may split one name by Python version).
        here = [p for p in entries if p.marker is None or Marker(p.marker).evaluate()]
        assert len(here) == 1, f"{req.name}: {len(here)} lock entries apply here"
        pin = here[0]
        assert req.specifier.contains(pin.version, prereleases=True), (
            f"the lock pins {req.name}=={pin.version}, pyproject.toml asks {req.specifier}: "
            "bash scripts/lock.sh"
        )
        assert pin.hashes > 0, f"{req.name} has no hash in the lock"
