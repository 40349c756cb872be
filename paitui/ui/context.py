"""Typed access to the running PaituiApp from any node, without importing it at run time."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.dom import DOMNode

if TYPE_CHECKING:
    from paitui.ui.app import PaituiApp


def app_of(node: DOMNode) -> PaituiApp:
    """The PaituiApp a node belongs to."""
    return cast("PaituiApp", node.app)
