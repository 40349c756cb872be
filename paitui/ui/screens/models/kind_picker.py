"""The dialog that sets a model file's type (or leaves it automatic)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from paitui.domain.models.kinds import ModelKind
from paitui.domain.models.records import InstalledModel
from paitui.ui.failures import ReportsWorkerFailures


class KindPicker(ReportsWorkerFailures, ModalScreen[str | None]):
    """Pick a model type; dismisses with a kind value, ``""`` for automatic, None on Esc."""

    DEFAULT_CSS = """
    KindPicker { align: center middle; }
    KindPicker > Vertical { width: 60; height: auto; max-height: 24; padding: 1 2;
        border: thick $primary; background: $surface; }
    KindPicker OptionList { height: auto; max-height: 17; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, current: InstalledModel) -> None:
        super().__init__()
        self._title = title
        self._current = current

    def compose(self) -> ComposeResult:
        auto = ModelKind(self._current.kind or "unknown").label
        why = self._current.kind_why or "no evidence"
        options = [Option(f"automatic: {auto} ({why})"[:80], id="")]
        options += [Option(k.label, id=k.value) for k in ModelKind]
        with Vertical():
            yield Label(self._title, markup=False)
            yield OptionList(*options, id="kinds")

    def on_mount(self) -> None:
        kinds = self.query_one("#kinds", OptionList)
        chosen = self._current.user_kind
        kinds.highlighted = 0 if not chosen else 1 + [k.value for k in ModelKind].index(chosen)
        kinds.focus()

    @on(OptionList.OptionSelected, "#kinds")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id or "")

    def action_cancel(self) -> None:
        """Close without a change."""
        self.dismiss(None)
