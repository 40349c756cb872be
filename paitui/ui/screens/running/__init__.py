"""The Running screen (``screen``), its keys (``actions``), table cells, detail and stats panes."""

from paitui.domain.fleet.status import format_uptime
from paitui.ui.screens.running.cells import format_bytes, ports_cell
from paitui.ui.screens.running.screen import RunningScreen

__all__ = ["RunningScreen", "format_bytes", "format_uptime", "ports_cell"]
