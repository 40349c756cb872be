"""Which engines paitui follows: the local one, the docker contexts and ``[hosts.NAME]`` settings.

Pure: the settings table and the contexts' metadata come in as data; the problems with them come
out as readable messages (a bad entry is skipped, never fatal). The services layer
(``paitui.services.fleet.hosts``) reads the files and connects.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from paitui.domain.engine.containers import PublishedPort
from paitui.domain.fleet.links import AppLinks, app_links, ssh_tunnel_to
from paitui.domain.fleet.status import AppState, AppStatus

if TYPE_CHECKING:  # the screens that show hosts load before the catalog's schema
    from paitui.domain.catalog.schema import App

#: The name of the engine paitui uses without ``--host`` (settings, DOCKER_HOST, the default).
LOCAL = "local"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_SCHEMES = ("unix", "npipe", "tcp", "ssh", "http", "https")
_KEYS = {
    "endpoint",
    "tls_verify",
    "ca_cert",
    "client_cert",
    "client_key",
    "ssh_client",
    "paitui",
    "models_dir",
    "apps_dir",
}
SSH_CLIENTS = ("paramiko", "openssh")


@dataclass(frozen=True)
class HostSpec:
    """One engine paitui follows, by name."""

    name: str
    endpoint: str
    source: str  # "default", "settings", "DOCKER_HOST", "context NAME", "[hosts.NAME]"
    tls_verify: bool = False
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    skip_tls_verify: bool = False
    #: ``paramiko`` (reads ~/.ssh/config via $HOME) or ``openssh`` (the ssh binary).
    ssh_client: str = "paramiko"
    #: The command that runs paitui on that box (for ``paitui hw --json`` over SSH).
    paitui: str = "paitui"
    #: Whether this is the engine paitui uses without ``--host``.
    current: bool = False
    #: The store and apps dir on that box (``[hosts.NAME]``), for plans when paitui there
    #: cannot tell.
    models_dir: str | None = None
    apps_dir: str | None = None

    @property
    def scheme(self) -> str:
        """``unix``, ``ssh``, ``tcp``, ..."""
        return self.endpoint.split("://", 1)[0].lower() if "://" in self.endpoint else "unix"

    @property
    def remote(self) -> bool:
        """Whether the engine is on another box (its ports are not on 127.0.0.1 here)."""
        return self.scheme in ("ssh", "tcp", "http", "https") and not _loopback(self.hostname)

    @property
    def hostname(self) -> str | None:
        """The box's address for ssh/tcp endpoints; None for a local socket."""
        if self.scheme in ("unix", "npipe"):
            return None
        return urlsplit(self.endpoint).hostname

    @property
    def ssh_user(self) -> str | None:
        """The user of an ``ssh://user@host`` endpoint."""
        return urlsplit(self.endpoint).username if self.scheme == "ssh" else None

    @property
    def ssh_port(self) -> int | None:
        """The port of an ``ssh://host:port`` endpoint (None: ssh's default)."""
        return urlsplit(self.endpoint).port if self.scheme == "ssh" else None

    @property
    def ssh_destination(self) -> str | None:
        """``user@host`` to ssh to for this box (tcp boxes: the host alone), None locally."""
        host = self.hostname
        if host is None:
            return None
        user = self.ssh_user
        return f"{user}@{host}" if user else host

    @property
    def probe_host(self) -> str:
        """The address the box's published ports are probed on from here."""
        return self.hostname or "127.0.0.1"


@dataclass(frozen=True)
class HostList:
    """The hosts, in display order (the current one first), and what was wrong with entries."""

    hosts: tuple[HostSpec, ...]
    problems: tuple[str, ...] = ()

    def get(self, name: str) -> HostSpec | None:
        """The host of that name."""
        return next((h for h in self.hosts if h.name == name), None)

    @property
    def names(self) -> list[str]:
        """Every host name."""
        return [h.name for h in self.hosts]

    def pick(self, name: str | None) -> list[HostSpec]:
        """The named host (all when None); LookupError naming the known ones otherwise."""
        if name is None:
            return list(self.hosts)
        host = self.get(name)
        if host is None:
            known = ", ".join(self.names)
            raise LookupError(f"no host {name!r}; known hosts: {known} (paitui hosts lists them)")
        return [host]


@dataclass(frozen=True)
class ContextMeta:
    """A docker context as read from ``contexts/meta/<digest>/meta.json`` and its TLS dir."""

    name: str
    meta: Mapping[str, object]
    tls_files: Mapping[str, str] = field(default_factory=dict)  # ca.pem/cert.pem/key.pem -> path


def check_endpoint(endpoint: object) -> str:
    """The endpoint as given, or ValueError saying what a good one looks like."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ValueError("endpoint must be a string like ssh://user@box or tcp://box:2376")
    text = endpoint.strip()
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in _SCHEMES or not rest:
        raise ValueError(
            f"endpoint {text!r} is not unix:///path, ssh://[user@]host[:port] or tcp://host:port"
        )
    if scheme.lower() in ("ssh", "tcp", "http", "https"):
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"endpoint {text!r}: {exc}") from None
        if not parts.hostname:
            raise ValueError(f"endpoint {text!r} names no host")
        if scheme.lower() == "tcp" and port is None:
            raise ValueError(f"endpoint {text!r} needs a port (2376 for TLS, 2375 without)")
    return text


def host_from_table(name: str, entry: object) -> HostSpec:
    """A ``[hosts.NAME]`` entry as a HostSpec; ValueError with what to fix."""
    where = f"[hosts.{name}]"
    if not _NAME.fullmatch(name):
        raise ValueError(f"{where}: a host name is letters, digits, '.', '_' or '-'")
    if name == LOCAL:
        raise ValueError(f"{where}: {LOCAL!r} is the engine paitui uses by default; pick another")
    if isinstance(entry, str):
        entry = {"endpoint": entry}
    if not isinstance(entry, Mapping):
        raise ValueError(f'{where}: expected a table with endpoint = "ssh://user@box"')
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(unknown)} (known: {sorted(_KEYS)})")
    try:
        endpoint = check_endpoint(entry.get("endpoint"))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    files: dict[str, str | None] = {}
    for key in ("ca_cert", "client_cert", "client_key"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{where}: {key} must be a file path")
        files[key] = value
    if bool(files["client_cert"]) != bool(files["client_key"]):
        raise ValueError(f"{where}: client_cert and client_key go together; give both or neither")
    verify = entry.get("tls_verify", bool(files["ca_cert"]))
    if not isinstance(verify, bool):
        raise ValueError(f"{where}: tls_verify must be true or false")
    if verify and not files["ca_cert"]:
        raise ValueError(f"{where}: tls_verify = true needs ca_cert (the CA that signed the box)")
    ssh_client = entry.get("ssh_client", "paramiko")
    if ssh_client not in SSH_CLIENTS:
        raise ValueError(f"{where}: ssh_client must be one of {', '.join(SSH_CLIENTS)}")
    paitui = entry.get("paitui", "paitui")
    if not isinstance(paitui, str) or not paitui.strip():
        raise ValueError(f"{where}: paitui must be the command that runs paitui on that box")
    dirs: dict[str, str | None] = {}
    for key in ("models_dir", "apps_dir"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value.startswith("/")):
            raise ValueError(f"{where}: {key} must be an absolute path on that box")
        dirs[key] = value
    return HostSpec(
        name=name,
        endpoint=endpoint,
        source=where,
        tls_verify=verify,
        ca_cert=files["ca_cert"],
        client_cert=files["client_cert"],
        client_key=files["client_key"],
        ssh_client=str(ssh_client),
        paitui=paitui.strip(),
        models_dir=dirs["models_dir"],
        apps_dir=dirs["apps_dir"],
    )


def host_from_context(context: ContextMeta) -> HostSpec:
    """A docker context as a HostSpec; ValueError when it has no docker endpoint."""
    endpoints = context.meta.get("Endpoints")
    docker = endpoints.get("docker") if isinstance(endpoints, Mapping) else None
    host = docker.get("Host") if isinstance(docker, Mapping) else None
    if not isinstance(host, str) or not host:
        raise ValueError(f"docker context {context.name!r} has no docker endpoint; skipped")
    assert isinstance(docker, Mapping)
    skip = bool(docker.get("SkipTLSVerify", False))
    ca = context.tls_files.get("ca.pem")
    return HostSpec(
        name=context.name,
        endpoint=host,
        source=f"context {context.name}",
        tls_verify=bool(ca) and not skip,
        ca_cert=ca,
        client_cert=context.tls_files.get("cert.pem"),
        client_key=context.tls_files.get("key.pem"),
        skip_tls_verify=skip,
    )


def merge_hosts(
    local: HostSpec,
    contexts: Sequence[ContextMeta],
    table: Mapping[str, object],
    current_context: str | None = None,
) -> HostList:
    """One list: the engine in use (named after its context, if it is one), the other docker
    contexts, then ``[hosts.NAME]`` entries; a later entry never replaces an earlier name."""
    problems: list[str] = []
    hosts: list[HostSpec] = [dataclasses.replace(local, current=True, name=local.name or LOCAL)]
    for context in sorted(contexts, key=lambda c: c.name):
        if context.name == "default":
            continue  # the default context is the local socket, already listed
        try:
            spec = host_from_context(context)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if context.name == current_context and hosts[0].source == f"context {context.name}":
            continue
        hosts.append(spec)
    for name, entry in table.items():
        try:
            spec = host_from_table(str(name), entry)
        except ValueError as exc:
            problems.append(f"{exc}; skipped")
            continue
        if any(h.name == spec.name for h in hosts):
            problems.append(
                f"[hosts.{name}]: a docker context has that name already; rename one of them"
            )
            continue
        hosts.append(spec)
    return HostList(tuple(hosts), tuple(problems))


def local_name(source: str) -> str:
    """What the engine in use is called: its context's name, else ``local``."""
    return source.removeprefix("context ") if source.startswith("context ") else LOCAL


def _loopback(host: str | None) -> bool:
    return host in (None, "localhost", "127.0.0.1", "::1") or bool(host and host.startswith("127."))


@dataclass(frozen=True)
class HostState:
    """What is known of one host's engine right now."""

    name: str
    reachable: bool | None = None  # None: not asked yet
    message: str = ""
    version: str | None = None
    os: str | None = None

    @property
    def label(self) -> str:
        """``up``, ``unreachable`` or ``connecting``."""
        if self.reachable is None:
            return "connecting"
        return "up" if self.reachable else "unreachable"


def host_links(
    app: App | None,
    ports: Sequence[PublishedPort],
    host: HostSpec,
    env: Mapping[str, str],
    hostname: str | None = None,
) -> AppLinks:
    """An app's links on ``host``: on another box, the ``ssh -L`` line for that box (after which
    the 127.0.0.1 links work here); on this one, the usual links."""
    links = app_links(app, ports, env, hostname)
    destination = host.ssh_destination
    if not host.remote or destination is None:
        return links
    tunnel = ssh_tunnel_to([p for p in ports if p.protocol == "tcp"], destination, host.ssh_port)
    return dataclasses.replace(links, ssh_tunnel=tunnel)


def host_cell(name: str, state: HostState | None) -> str:
    """The Running screen's host column: the name, marked when the box is away."""
    if state is not None and state.reachable is False:
        return f"{name} (unreachable)"
    return name


def show_host_column(hosts: Sequence[HostSpec]) -> bool:
    """A host column only earns its width when more than one host is configured."""
    return len(hosts) > 1


def tile_host_note(hosts: Sequence[HostSpec], target: str | None = None) -> str | None:
    """The Desktop tile's ``runs on NAME`` note (None with one host: nothing to choose)."""
    if len(hosts) <= 1:
        return None
    chosen = next((h for h in hosts if h.name == target), None) or next(
        (h for h in hosts if h.current), hosts[0]
    )
    return f"runs on {chosen.name}"


#: An app on another box whose port is bound to that box's loopback: this box cannot reach it,
#: so it is neither ready nor unhealthy as far as paitui here can tell.
NOT_PROBED = "not probed (bound to the remote's loopback; open the ssh -L line)"
_LOOPBACK_IPS = frozenset({"127.0.0.1", "::1", "localhost"})


def unreachable_port(host: HostSpec, host_ip: str) -> bool:
    """Whether a port the box publishes on ``host_ip`` cannot be probed from here: a remote
    box's loopback (an app's default bind) is only reached through ``ssh -L``."""
    return host.remote and (host_ip in _LOOPBACK_IPS or host_ip.startswith("127."))


def mark_not_probed(status: AppStatus) -> AppStatus:
    """A running app whose port cannot be probed from here: still ``starting`` as far as the
    engine tells, with the reason instead of a false ``unhealthy``."""
    if status.state != AppState.STARTING or status.detail == NOT_PROBED:
        return status
    return dataclasses.replace(status, detail=NOT_PROBED)


def state_label(status: AppStatus) -> str:
    """The state as ``ls`` shows it: ``not probed`` for a remote app behind its loopback."""
    if status.state == AppState.STARTING and status.detail == NOT_PROBED:
        return "not probed"
    return str(status.state)
