"""The Models screen's library: one row per installed file, and how its cells read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from paitui.domain.models.kinds import ModelKind
from paitui.domain.models.records import InstalledModel


@dataclass(frozen=True)
class LibraryRow:
    """One installed file (the store's or the HF cache's) with the apps that can use it."""

    model: InstalledModel
    apps: tuple[str, ...]

    @property
    def key(self) -> str:
        """The row's key: the same repo file may be in the store and in the HF cache."""
        return f"{self.model.origin}:{self.model.repo_id}/{self.model.path}"


def kind_cell(model: InstalledModel) -> str:
    """The type as the library shows it: its label, ``*`` when the user chose it."""
    return ModelKind(model.effective_kind).label + (" *" if model.user_kind else "")


def middle(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width``: a file's quant and extension are at its end."""
    if len(text) <= width:
        return text
    keep = width - 1
    return text[: keep // 2] + "…" + text[-(keep - keep // 2) :]


def apps_cell(apps: Sequence[str], width: int = 30) -> str:
    """The apps that can use a file, as many as fit, then ``+N``."""
    if not apps:
        return "none: no app reads this type"
    shown: list[str] = []
    for i, app in enumerate(apps):
        rest = len(apps) - i - 1
        if shown and len(", ".join([*shown, app])) + (len(f" +{rest}") if rest else 0) > width:
            return ", ".join(shown) + f" +{len(apps) - i}"
        shown.append(app)
    return ", ".join(shown)


class LibraryTable(DataTable[str]):
    """The library list; its own keys show in the footer while it has the focus."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("k", "screen.change_kind", "Type (k)")]
