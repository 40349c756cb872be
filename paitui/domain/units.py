"""Byte sizes as people read them: the one formatter the screens and the commands share.

Files and downloads are sized in decimal units, as the Hub and disk makers write them
(``4.4 GB``); memory and VRAM in binary ones, as the kernel and ``docker stats`` count them
(``7.5 GiB``). Estimates said aloud ("needs 6.5 GB") drop a trailing ``.0``.
"""

from __future__ import annotations

import math

DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB")
BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
GIB = 1024**3


def format_size(n: float | None, *, binary: bool = False, unit: str | None = None) -> str:
    """``n`` bytes with one decimal (whole bytes without), ``?`` when unknown.

    The unit is the largest one that keeps the figure under 1000 (1024 when ``binary``), or
    ``unit`` when given (one of ``DECIMAL_UNITS`` or ``BINARY_UNITS``).
    """
    if n is None or not math.isfinite(n):
        return "?"
    if unit is not None:
        units = BINARY_UNITS if unit in BINARY_UNITS[1:] else DECIMAL_UNITS
        if unit not in units:
            raise ValueError(f"unknown size unit {unit!r}")
        value = n / (1024 if units is BINARY_UNITS else 1000) ** units.index(unit)
        return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
    units = BINARY_UNITS if binary else DECIMAL_UNITS
    base = 1024 if binary else 1000
    value = float(n)
    for name in units:
        if abs(value) < base or name == units[-1]:
            return f"{value:.0f} {name}" if name == "B" else f"{value:.1f} {name}"
        value /= base
    raise AssertionError("unreachable: the last unit always returns")


def spoken_number(value: float) -> str:
    """``6.5`` -> ``"6.5"``, ``8.0`` -> ``"8"``, ``24.3`` -> ``"24"``: sizes as people say them."""
    if not math.isfinite(value):
        return "?"
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}".rstrip("0").rstrip(".")


def spoken_gib(n: int) -> str:
    """Bytes as a spoken GiB figure (``"6.5"``), for estimates worded "needs 6.5 GB"."""
    return spoken_number(n / GIB)
