"""Which TCP ports on the host are already taken, so a launch plan can move off them."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable

#: How many ports above each wanted one are checked, so the planner's pick is known free.
SCAN_SPAN = 32


def port_in_use(port: int, address: str = "127.0.0.1") -> bool:
    """Whether binding ``address:port`` fails (something listens there or holds it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return True
    return False


def taken_ports(
    wanted: Iterable[int], address: str = "127.0.0.1", span: int = SCAN_SPAN
) -> set[int]:
    """The ports in use among each wanted port and the ``span`` ports above it."""
    taken: set[int] = set()
    for base in set(wanted):
        for port in range(base, min(base + span + 1, 65536)):
            with contextlib.suppress(OverflowError):
                if port_in_use(port, address):
                    taken.add(port)
    return taken
