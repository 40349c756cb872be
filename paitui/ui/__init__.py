"""The Textual user interface: screens and widgets that render state and post messages."""
