"""Themes as TOML files: the bundled ``themes/`` folder, then ``<config dir>/themes``.

A broken theme file is skipped with a readable problem; it never stops the app.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

from textual.theme import Theme

_COLOURS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


def theme_from_toml(path: Path) -> Theme:
    """Build a Textual theme from one TOML file; ValueError says what is wrong."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it: {exc}") from exc
    name = doc.get("name") or path.stem
    if "primary" not in doc:
        raise ValueError(f"{path}: a theme needs at least 'primary'")
    unknown = set(doc) - {*_COLOURS, "name", "dark", "variables"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {', '.join(sorted(unknown))}")
    variables = doc.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError(f"{path}: 'variables' must be a table")

    def colour(key: str) -> str | None:
        return str(doc[key]) if key in doc else None

    try:
        return Theme(
            name=str(name),
            primary=str(doc["primary"]),
            secondary=colour("secondary"),
            warning=colour("warning"),
            error=colour("error"),
            success=colour("success"),
            accent=colour("accent"),
            foreground=colour("foreground"),
            background=colour("background"),
            surface=colour("surface"),
            panel=colour("panel"),
            boost=colour("boost"),
            dark=bool(doc.get("dark", True)),
            variables={str(k): str(v) for k, v in variables.items()},
        )
    except Exception as exc:  # Textual raises on colours it cannot parse
        raise ValueError(f"{path}: {exc}") from exc


def load_themes(folders: Iterable[Path]) -> tuple[list[Theme], list[str]]:
    """Every theme in the folders (later folders win on equal names) and the problems found."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = theme_from_toml(path)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems
