"""``paitui serve``: the same UI in a browser through textual-serve, on 127.0.0.1 by default.

Every request needs the per-run token (the printed URL carries it) and this server's own Host
and Origin: see ``paitui.services.serve.guard``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paitui.cli.common import Subparsers

#: Fixed token instead of a random one per run (also the ``serve_token`` setting).
TOKEN_ENV = "PAITUI_SERVE_TOKEN"


def register(sub: Subparsers) -> None:
    """Add ``paitui serve``."""
    parser = sub.add_parser("serve", help="serve the UI to a browser (needs textual-serve)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    parser.add_argument("--port", type=int, default=8088, help="port (default 8088)")
    parser.add_argument(
        "--public-url", help="URL the browser uses, when behind a proxy or on another name"
    )
    parser.set_defaults(func=run)


def serve_command(args: argparse.Namespace) -> str:
    """The command each browser session runs: this paitui with the same options."""
    argv = [sys.executable, "-m", "paitui"]
    for path in args.catalog or []:
        argv += ["--catalog", path]
    if args.config:
        argv += ["--config", args.config]
    if args.demo:
        argv.append("--demo")
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    """Start the web server; every browser tab gets its own paitui."""
    from paitui.services.serve.guard import (
        WILDCARD_HOSTS,
        ServeGuard,
        check_public_url,
        new_token,
    )
    from paitui.settings import load_settings

    if not 0 < args.port < 65536:
        print(f"paitui: --port {args.port}: expected a port from 1 to 65535", file=sys.stderr)
        return 2
    if args.public_url and (problem := check_public_url(args.public_url)):
        print(f"paitui: {problem}", file=sys.stderr)
        return 2
    try:
        from paitui.services.serve.web import GuardedServer
    except ImportError:
        print("paitui: serve needs textual-serve: pip install 'paitui[serve]'", file=sys.stderr)
        return 1
    settings = load_settings(Path(args.config) if args.config else None)
    for problem in settings.problems:
        print(f"paitui: {problem}", file=sys.stderr)
    # The apps each tab starts inherit this environment: they have no use for the token.
    os.environ.pop(TOKEN_ENV, None)
    guard = ServeGuard.for_server(
        settings.serve_token or new_token(), args.host, args.port, args.public_url
    )
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        print(
            f"paitui: warning: serving on {args.host}: anyone who can reach it and has the "
            "URL controls your containers, over plain HTTP (put a TLS proxy in front and "
            "pass --public-url)",
            file=sys.stderr,
        )
    if args.host in WILDCARD_HOSTS and not args.public_url:
        print(
            f"paitui: only {guard.base_url} and the other loopback names are accepted; pass "
            f"--public-url http://NAME:{args.port} for the name other machines use",
            file=sys.stderr,
        )
    server = GuardedServer(
        serve_command(args), guard, host=args.host, port=args.port, public_url=args.public_url
    )
    try:
        server.serve()
    except OSError as exc:
        print(
            f"paitui: cannot serve on {args.host}:{args.port}: {exc.strerror or exc} "
            "(pick another --port or --host)",
            file=sys.stderr,
        )
        return 1
    return 0
