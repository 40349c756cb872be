"""``paitui serve``: the same UI in a browser through textual-serve, on 127.0.0.1 by default."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add ``paitui serve``."""
    parser = sub.add_parser("serve", help="serve the UI to a browser (needs textual-serve)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8088, help="port (default 8088)")
    parser.add_argument("--public-url", help="URL the browser uses, when behind a proxy")
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
    try:
        from textual_serve.server import Server
    except ImportError:
        print("paitui: serve needs textual-serve: pip install 'paitui[serve]'", file=sys.stderr)
        return 1
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        print(f"paitui: warning: serving on {args.host} lets anyone who can reach it control "
              "your containers", file=sys.stderr)
    server = Server(serve_command(args), host=args.host, port=args.port, title="paitui",
                    public_url=args.public_url)
    server.serve()
    return 0
