"""Where the bundled catalog and themes are: inside the package when installed from a wheel,
at the top of the repository when running from a checkout (editable install)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """Path of a bundled data file or folder, e.g. ``catalog.yml`` or ``themes``."""
    installed = _PACKAGE_DIR / "data" / name
    if installed.exists():
        return installed
    return _PACKAGE_DIR.parent / name
