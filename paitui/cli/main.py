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


def _add_ui_options(parser: argparse.ArgumentParser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="paitui",
        description="Keyboard-driven terminal manager for AI apps in containers.",
    )
    parser.add_argument("--version", action="version", version=f"paitui {__version__}")
    _add_ui_options(parser)
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


def _ui_launch(argv: Sequence[str] | None) -> argparse.Namespace | None:
    """The options of a plain ``paitui`` (the UI), or None when there is more to parse.

    Building the full parser imports every command module (a sixth of the time to the first
    frame), which a plain launch does not need; anything else (a command, ``--help``,
    ``--version``, a mistake) goes to the full parser and reads as before.
    """
    parser = argparse.ArgumentParser(prog="paitui", add_help=False, exit_on_error=False)
    _add_ui_options(parser)
    try:
        args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    except argparse.ArgumentError:  # e.g. --catalog without a path: the full parser says so
        return None
    return None if rest else args


def main(argv: Sequence[str] | None = None) -> int:
    """Run paitui; returns the process exit status."""
    launch = _ui_launch(argv)
    if launch is not None:
        from paitui.cli.common import run_ui

        return run_ui(launch)
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
