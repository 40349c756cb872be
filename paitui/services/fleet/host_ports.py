"""Which TCP ports on the host are free for a new container, so a launch plan offers only ports
it checked.

A port is taken when binding it on the bind address fails with "address in use" (another
program, or docker-proxy for a running container) or when a running managed container publishes
it (the engine refuses it even where no socket listens, e.g. with the userland proxy off). The
Desktop launch form and the CLI (``start``, ``run-cmd``, ``compose``) both get their test from
``launch_port_check`` and hand it to the planner, so they pick the same port in the same
situation.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Iterable

from paitui.domain.engine.containers import ContainerInfo, ContainerStatus
from paitui.domain.fleet.status import AppStatus
from paitui.domain.launch.planner import PORT_SCAN_SPAN, first_free_port

#: How many ports above a wanted one the planner tries before it gives up with an error.
SCAN_SPAN = PORT_SCAN_SPAN

_HOLDING = frozenset({ContainerStatus.RUNNING, ContainerStatus.RESTARTING, ContainerStatus.PAUSED})


def port_in_use(port: int, address: str = "127.0.0.1") -> bool:
    """Whether binding ``address:port`` fails because something listens there or holds it.

    Other bind failures (a privileged port for a normal user, an address this host lacks) say
    nothing about the port: the engine, which binds as root, reports those itself.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port left in TIME_WAIT by a stopped app is free for docker-proxy too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OverflowError:
            return True
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def held_ports(containers: Iterable[ContainerInfo | AppStatus]) -> set[int]:
    """The host ports that managed containers publish while they run: from the engine's
    listing (CLI) or the live statuses (Desktop)."""
    return {
        p.host_port
        for c in containers
        if (c.status in _HOLDING if isinstance(c, ContainerInfo) else not c.final)
        for p in c.ports
    }


class PortCheck:
    """``check(port)``: whether ``port`` is free on ``address`` and held by no managed container.

    Answers are remembered, so a form that replans on every key stays consistent and does each
    bind test once; ``prime`` runs the likely ones in a worker thread before the form opens.
    """

    def __init__(self, address: str, held: Iterable[int] = ()) -> None:
        self.address = address
        self.held = frozenset(held)
        self._known: dict[int, bool] = {}
        self._lock = threading.Lock()

    def __call__(self, port: int) -> bool:
        if port in self.held or not 1 <= port <= 65535:
            return False
        with self._lock:
            known = self._known.get(port)
        if known is None:
            known = not port_in_use(port, self.address)
            with self._lock:
                self._known[port] = known
        return known

    def prime(self, wanted: Iterable[int], span: int = SCAN_SPAN) -> None:
        """Check each wanted port and the ones above it up to the first free one."""
        for base in set(wanted):
            first_free_port(base, self, span)


def launch_port_check(address: str, held: Iterable[int], wanted: Iterable[int] = ()) -> PortCheck:
    """The free-port test every launch plans with: a bind test on ``address`` (another program's
    port is refused) plus ``held``, the ports managed containers publish (``held_ports``).

    ``wanted`` (the app's container ports) are checked now, with the ports above them up to the
    first free one, so a form opened afterwards plans without a bind test on the event loop.
    """
    check = PortCheck(address, held)
    check.prime(wanted)
    return check


def taken_ports(
    wanted: Iterable[int], address: str = "127.0.0.1", span: int = SCAN_SPAN
) -> set[int]:
    """The ports in use among each wanted port and the ``span`` ports above it."""
    check = PortCheck(address)
    return {
        port
        for base in set(wanted)
        for port in range(base, min(base + span, 65535) + 1)
        if not check(port)
    }
