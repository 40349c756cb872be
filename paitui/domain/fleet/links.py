"""Links to a running app: the URLs the catalog names per published port, and how to reach them.

On the box itself a link is ``http://127.0.0.1:PORT/...``. Over SSH that link cannot work on the
laptop, so paitui shows the exact ``ssh -L PORT:127.0.0.1:PORT user@host`` command to run there
first (after which the same link works in the laptop's browser). A port published on all
interfaces is reachable by anyone on the network and carries a warning.

Pure: the environment is passed in as a mapping.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from paitui.domain.engine.containers import PublishedPort

_ALL_INTERFACES = {"", "0.0.0.0", "::"}

if TYPE_CHECKING:  # types only: the screens that show links load before the schema
    from paitui.domain.catalog.schema import App, PortSpec


@dataclass(frozen=True)
class Link:
    """One URL (or TCP address) the app serves."""

    label: str
    url: str
    kind: str  # ui | docs | api | openai | tcp
    host_port: int
    container_port: int


@dataclass(frozen=True)
class AppLinks:
    """Everything the user needs to reach an app."""

    links: tuple[Link, ...] = ()
    #: The command to run on the laptop when paitui runs over SSH; None locally.
    ssh_tunnel: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def primary(self) -> Link | None:
        """The link to open or copy by default: the web UI, else the first one."""
        for link in self.links:
            if link.kind == "ui":
                return link
        return self.links[0] if self.links else None


def over_ssh(env: Mapping[str, str]) -> bool:
    """Whether this session runs over SSH."""
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY") or env.get("SSH_CLIENT"))


def can_open_browser(env: Mapping[str, str]) -> bool:
    """Whether a local browser can be opened: a display and not over SSH."""
    has_display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return has_display and not over_ssh(env)


def ssh_destination(env: Mapping[str, str], hostname: str | None = None) -> str:
    """``user@host`` for the laptop to connect to: the server address of SSH_CONNECTION."""
    host = None
    parts = env.get("SSH_CONNECTION", "").split()
    if len(parts) >= 3:
        host = parts[2]
    host = host or hostname or env.get("HOSTNAME") or "THIS-HOST"
    user = env.get("USER") or env.get("LOGNAME")
    return f"{user}@{host}" if user else host


def _url_host(host_ip: str) -> str:
    """The host part of a URL for a port published on ``host_ip``."""
    if host_ip in _ALL_INTERFACES:
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host_ip).version == 6:
            return f"[{host_ip}]"
    except ValueError:
        pass
    return host_ip


def _tunnel_target(host_ip: str) -> str:
    return "127.0.0.1" if host_ip in _ALL_INTERFACES else _url_host(host_ip)


def ssh_tunnel_command(
    ports: Sequence[PublishedPort], env: Mapping[str, str], hostname: str | None = None
) -> str | None:
    """``ssh -L P:127.0.0.1:P [-L ...] user@host`` forwarding every published port, or None."""
    return ssh_tunnel_to(ports, ssh_destination(env, hostname))


def ssh_tunnel_to(
    ports: Sequence[PublishedPort], destination: str, ssh_port: int | None = None
) -> str | None:
    """``ssh [-p N] -L P:127.0.0.1:P ... destination`` for ports published on another box."""
    forwards: list[str] = []
    seen: set[int] = set()
    for port in ports:
        if port.host_port in seen or port.protocol != "tcp":
            continue
        seen.add(port.host_port)
        forwards.append(f"-L {port.host_port}:{_tunnel_target(port.host_ip)}:{port.host_port}")
    if not forwards:
        return None
    via = f"-p {ssh_port} " if ssh_port else ""
    return f"ssh {via}{' '.join(forwards)} {destination}"


def _unique_ports(ports: Sequence[PublishedPort]) -> list[PublishedPort]:
    """One entry per host port, preferring the IPv4 one (docker publishes 0.0.0.0 and ::)."""
    chosen: dict[tuple[int, int], PublishedPort] = {}
    for port in ports:
        if port.protocol != "tcp":
            continue
        key = (port.container_port, port.host_port)
        if key not in chosen or ":" in chosen[key].host_ip:
            chosen[key] = port
    return list(chosen.values())


def _spec_for(app: App | None, container_port: int) -> PortSpec | None:
    if app is None:
        return None
    for spec in app.ports:
        if spec.container == container_port:
            return spec
    return None


def app_links(
    app: App | None,
    ports: Sequence[PublishedPort],
    env: Mapping[str, str],
    hostname: str | None = None,
) -> AppLinks:
    """The links of an app's published ports, the SSH tunnel command and exposure warnings."""
    links: list[Link] = []
    warnings: list[str] = []
    unique = _unique_ports(ports)
    for port in unique:
        spec = _spec_for(app, port.container_port)
        base = f"http://{_url_host(port.host_ip)}:{port.host_port}"
        if spec is not None and spec.protocol == "tcp":
            links.append(
                Link(
                    spec.purpose or "TCP",
                    f"tcp://{base[len('http://') :]}",
                    "tcp",
                    port.host_port,
                    port.container_port,
                )
            )
        elif spec is not None and spec.links:
            for link in spec.links:
                links.append(
                    Link(
                        link.label, base + link.path, link.kind, port.host_port, port.container_port
                    )
                )
        else:
            label = spec.purpose if spec is not None else f"port {port.container_port}"
            links.append(Link(label, base + "/", "ui", port.host_port, port.container_port))
    exposed = sorted(
        {p.host_port for p in ports if p.protocol == "tcp" and p.host_ip in _ALL_INTERFACES}
    )
    for host_port in exposed:
        warnings.append(
            f"port {host_port} is published on all interfaces: anyone on the network can "
            'reach it (set bind_address = "127.0.0.1" to keep it on this machine)'
        )
    tunnel = ssh_tunnel_command(unique, env, hostname) if over_ssh(env) else None
    return AppLinks(links=tuple(links), ssh_tunnel=tunnel, warnings=tuple(warnings))
