"""``paitui`` entry point: no sub-command starts the UI; sub-commands serve scripts and SSH.

Each module in ``paitui.cli`` (other than this one and ``common``) that defines
``register(subparsers)`` adds its sub-commands; a handler is stored as ``func`` in the parser
defaults and returns the exit status. Modules import their heavy dependencies inside handlers so
``paitui --version`` and the start of the UI stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from paitui import __version__

_NOT_COMMANDS = {"main", "common"}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="paitui",
        description="Keyboard-driven terminal manager for AI apps in containers.",
    )
    parser.add_argument("--version", action="version", version=f"paitui {__version__}")
    parser.add_argument(
        "--catalog",
        action="append",
        default=[],
        metavar="PATH",
        help="an extra catalog file merged over the bundled one (repeatable)",
    )
    parser.add_argument("--config", metavar="PATH", help="settings file instead of config.toml")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="show the UI with a fixed sample box (no hardware detection, no engine)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import paitui.cli as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name in _NOT_COMMANDS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"paitui.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run paitui; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        from paitui.cli.common import run_ui

        return run_ui(args)
    try:
        status: int = func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `paitui ls | head` must not end with a traceback.
        sys.stderr.close()
        return 0
    return status


if __name__ == "__main__":
    raise SystemExit(main())
