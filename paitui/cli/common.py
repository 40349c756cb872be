"""What the UI and several sub-commands share: settings, services, JSON output."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
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


@contextlib.contextmanager
def hangup_as_interrupt() -> Iterator[None]:
    """Within the block, a hang-up (an SSH session cut) or SIGTERM stops the command as Ctrl-C
    does, so what it was doing is paused and kept rather than lost to the default death."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


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
