"""Plain data shared by every layer: no I/O, no Textual, no Docker."""
