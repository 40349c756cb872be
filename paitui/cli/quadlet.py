"""``paitui quadlet APP``: an app's launch plan as a Podman Quadlet ``.container`` unit.

The unit brings the app back after a reboot of a headless box (``systemctl start NAME``,
enabled by its ``[Install]`` section). Printed on stdout, or written atomically into ``--dir``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from paitui.cli.engine import _add_choices
from paitui.services.text_files import write_atomically


def register(subparsers: Any) -> None:
    """Add ``paitui quadlet``."""
    parser = subparsers.add_parser(
        "quadlet",
        help="write an app's launch plan as a Podman Quadlet .container unit",
        description="The container paitui would start for APP as a Podman Quadlet unit, so it "
        "comes back after a reboot. Put it in /etc/containers/systemd (rootful) or "
        "~/.config/containers/systemd (rootless), then: systemctl [--user] daemon-reload && "
        "systemctl [--user] start paitui-APP",
    )
    _add_choices(parser)
    parser.add_argument(
        "--dir", metavar="DIR", help="write the unit into DIR (created) instead of stdout"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--rootless", action="store_true", help="for rootless Podman (default when not root)"
    )
    mode.add_argument("--rootful", action="store_true", help="for rootful Podman (default as root)")
    parser.add_argument("--json", action="store_true", help="print the unit and its set-up as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan, render, print or write."""
    from paitui.cli.common import print_json
    from paitui.cli.engine import plan_with_hardware
    from paitui.domain.launch.quadlet import ROOTFUL_DIR, ROOTLESS_DIR, QuadletError, quadlet_unit
    from paitui.domain.text_safety import terminal_safe

    planned = plan_with_hardware(args)
    if isinstance(planned, int):
        return planned
    plan, hardware = planned
    rootless = args.rootless or (not args.rootful and os.getuid() != 0)
    try:
        unit = quadlet_unit(plan, hardware, rootless=rootless)
    except QuadletError as exc:
        print(f"paitui quadlet: error: {terminal_safe(str(exc))}", file=sys.stderr)
        return 2
    path: Path | None = None
    written: list[str] = []
    if args.dir:
        directory = Path(args.dir).expanduser()
        try:
            # The files the unit names first: a unit is never there without them.
            for name, text in (*unit.files, (unit.name, unit.text)):
                written.append(str(write_atomically(directory, name, text)))
        except OSError as exc:
            print(
                f"paitui quadlet: cannot write {name} into {terminal_safe(args.dir)}: "
                f"{exc.strerror or exc}; choose a directory you can write to (--dir)",
                file=sys.stderr,
            )
            return 1
        path = directory / unit.name
    if args.json:
        print_json(
            {
                "name": unit.name,
                "service": unit.service,
                "path": str(path) if path else None,
                "written": written,
                "unit": unit.text,
                "files": {name: text for name, text in unit.files},
                "setup": list(unit.setup),
                "dirs": list(unit.dirs),
                "warnings": list(unit.warnings),
                "rootless": rootless,
                "unit_dir": ROOTLESS_DIR if rootless else ROOTFUL_DIR,
            }
        )
        return 0
    if path is None:
        sys.stdout.write(terminal_safe(unit.text, multiline=True))
        for name, _ in unit.files:
            print(f"paitui quadlet: the unit needs {name} beside it: use --dir", file=sys.stderr)
        return 0
    user = " --user" if rootless else ""
    for done in written:
        print(f"wrote {terminal_safe(done)}")
    for step in unit.setup:
        print(f"before the first start: {terminal_safe(step)}")
    for warning in unit.warnings:
        print(f"note: {terminal_safe(warning)}")
    print(
        f"then: systemctl{user} daemon-reload && systemctl{user} start {unit.service}"
        + (f"  (Quadlet reads {ROOTLESS_DIR if rootless else ROOTFUL_DIR})")
    )
    return 0
