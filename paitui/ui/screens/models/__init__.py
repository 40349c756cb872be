"""The Models screen (``screen``), its library rows (``library``) and its type dialog."""

from paitui.ui.screens.models.kind_picker import KindPicker
from paitui.ui.screens.models.library import LibraryRow, LibraryTable, kind_cell
from paitui.ui.screens.models.library import apps_cell as _apps_cell
from paitui.ui.screens.models.library import middle as _middle
from paitui.ui.screens.models.screen import ModelsScreen

__all__ = [
    "KindPicker",
    "LibraryRow",
    "LibraryTable",
    "ModelsScreen",
    "_apps_cell",
    "_middle",
    "kind_cell",
]
