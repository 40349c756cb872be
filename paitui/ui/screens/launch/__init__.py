"""The launch dialog (``screen``), what it returns (``request``) and its Hub fetches."""

from paitui.ui.screens.launch.request import LaunchRequest, model_options
from paitui.ui.screens.launch.screen import LaunchScreen

__all__ = ["LaunchRequest", "LaunchScreen", "model_options"]
