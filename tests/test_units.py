"""The one byte-size formatter: a table of figures at every unit edge, in both unit systems."""

from __future__ import annotations

import pytest

from paitui.domain.models.records import human_size
from paitui.domain.models.suggested import gb_text
from paitui.domain.units import GIB, format_size, spoken_gib, spoken_number

DECIMAL = [
    (None, "?"),
    (float("nan"), "?"),
    (0, "0 B"),
    (999, "999 B"),
    (1000, "1.0 kB"),
    (1499, "1.5 kB"),
    (999_949, "999.9 kB"),
    (1_000_000, "1.0 MB"),
    (4_370_000_000, "4.4 GB"),
    (12_300_000_000_000, "12.3 TB"),
    (5_000_000_000_000_000, "5000.0 TB"),  # TB is the largest unit
    (-2048, "-2.0 kB"),
]

BINARY = [
    (0, "0 B"),
    (1023, "1023 B"),
    (1024, "1.0 KiB"),
    (1536, "1.5 KiB"),
    (1024**2 * 5, "5.0 MiB"),
    (int(7.5 * GIB), "7.5 GiB"),
    (1023 * GIB, "1023.0 GiB"),
    (1024 * GIB, "1.0 TiB"),
]

FIXED = [
    (0, "GiB", "0.0 GiB"),
    (GIB // 2, "GiB", "0.5 GiB"),
    (24 * GIB, "GiB", "24.0 GiB"),
    (3 * 1024**2, "MiB", "3.0 MiB"),
    (2_500_000, "MB", "2.5 MB"),
    (512, "B", "512 B"),
    (None, "GiB", "?"),
]


@pytest.mark.parametrize(("n", "text"), DECIMAL)
def test_decimal_sizes(n: float | None, text: str) -> None:
    assert format_size(n) == text
    assert human_size(n) == text  # the models' name for it is the same function


@pytest.mark.parametrize(("n", "text"), BINARY)
def test_binary_sizes(n: int, text: str) -> None:
    assert format_size(n, binary=True) == text


@pytest.mark.parametrize(("n", "unit", "text"), FIXED)
def test_sizes_in_a_fixed_unit(n: int | None, unit: str, text: str) -> None:
    assert format_size(n, unit=unit) == text


def test_an_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown size unit 'GB2'"):
        format_size(1, unit="GB2")


def test_spoken_figures() -> None:
    assert [spoken_number(v) for v in (6.5, 8.0, 0.81, 9.96, 10.0, 24.3, float("inf"))] == [
        "6.5",
        "8",
        "0.8",
        "10",
        "10",
        "24",
        "?",
    ]
    assert gb_text(6.5) == spoken_number(6.5)
    assert spoken_gib(int(6.5 * GIB)) == "6.5" and spoken_gib(16 * GIB) == "16"
