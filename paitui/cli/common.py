"""What the UI and several sub-commands share: settings, services, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from paitui.services.registry import Services
from paitui.settings import load_settings

if TYPE_CHECKING:
    #: What ``add_subparsers()`` returns: each command module adds its parsers to it.
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def services_from_args(args: argparse.Namespace) -> Services:
    """Settings and services as the top-level options ask for."""
    settings = load_settings(Path(args.config) if getattr(args, "config", None) else None)
    from paitui.domain.text_safety import terminal_safe

    for problem in settings.problems:
        print(f"paitui: {terminal_safe(problem)}", file=sys.stderr)
    extra = [Path(p) for p in getattr(args, "catalog", []) or []]
    return Services(settings, extra)


def print_json(data: object) -> None:
    """Pretty JSON on stdout, for scripts."""
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def run_ui(args: argparse.Namespace) -> int:
    """Start the Textual app."""
    services = services_from_args(args)
    from paitui.ui.app import PaituiApp

    PaituiApp(services, demo=bool(getattr(args, "demo", False))).run()
    return 0
