"""paitui: a keyboard-driven terminal manager for AI apps in containers."""

__version__ = "0.1.0"
