"""A VRAM usage bar (the GPU card's and the live panel's): pure rendering."""

from __future__ import annotations

from rich.text import Text

from paitui.domain.units import format_size

_BAR_CELLS = 24


def gib(n: int) -> str:
    """Bytes as GiB with one decimal."""
    return format_size(n, unit="GiB")


def vram_bar(used: int | None, total: int, cells: int = _BAR_CELLS) -> Text:
    """A fixed-width usage bar with the numbers after it."""
    text = Text()
    if used is None:
        text.append("░" * cells, style="dim")
        text.append(f" {gib(total)}")
        return text
    filled = max(0, min(cells, round(cells * used / total))) if total else 0
    ratio = used / total if total else 0
    style = "red" if ratio > 0.9 else ("yellow" if ratio > 0.7 else "green")
    text.append("█" * filled, style=style)
    text.append("░" * (cells - filled), style="dim")
    text.append(f" {gib(used)} / {gib(total)}")
    return text
