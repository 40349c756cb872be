"""A yes/no question as a modal screen; ``dismiss(True)`` only on an explicit yes."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from paitui.ui.failures import ReportsWorkerFailures


class ConfirmDialog(ReportsWorkerFailures, ModalScreen[bool]):
    """Ask before doing something that cannot be undone. ``y`` confirms, ``n``/Esc cancels."""

    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical { width: 64; height: auto; padding: 1 2; border: thick $primary;
        background: $surface; }
    ConfirmDialog.danger > Vertical { border: thick $error; }
    ConfirmDialog #confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmDialog Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
    ConfirmDialog Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, message: str, yes: str = "Yes", *, danger: bool = False) -> None:
        super().__init__(classes="danger" if danger else None)
        self._title = title
        self._message = message
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="confirm-title", markup=False)
            yield Static(self._message, id="confirm-message", markup=False)
            with Horizontal():
                yield Button("No (n)", id="no")
                yield Button(
                    f"{self._yes} (y)",
                    id="yes",
                    variant="error" if self.has_class("danger") else "primary",
                )

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer has the focus

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
