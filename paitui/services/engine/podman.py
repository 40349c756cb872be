"""Finding a Podman service, and asking an engine what kind it is.

Podman serves the Docker API on its own socket: rootful ``/run/podman/podman.sock`` (``systemctl
enable --now podman.socket``), rootless ``$XDG_RUNTIME_DIR/podman/podman.sock`` (``systemctl
--user enable --now podman.socket``). ``DOCKER_HOST``, a docker context or ``docker_host`` in
config.toml pointing at one of those is honoured as for Docker (``connect.resolve_endpoint``);
when nothing is configured and no Docker socket exists, the Podman socket found here is used.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from paitui.domain.engine.errors import translate
from paitui.domain.engine.kind import EngineKind, engine_kind
from paitui.services.engine.connect import DEFAULT_HOST, Endpoint, make_client, resolve_endpoint

ROOTFUL_SOCKET = "/run/podman/podman.sock"


def podman_sockets(env: Mapping[str, str] | None = None, uid: int | None = None) -> list[str]:
    """Where a Podman service listens, the user's own (rootless) first unless running as root."""
    env = os.environ if env is None else env
    uid = os.getuid() if uid is None else uid
    runtime_dir = env.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
    rootless = str(Path(runtime_dir) / "podman" / "podman.sock")
    return [ROOTFUL_SOCKET, rootless] if uid == 0 else [rootless, ROOTFUL_SOCKET]


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def find_podman(env: Mapping[str, str] | None = None, uid: int | None = None) -> Endpoint | None:
    """The first Podman socket that exists, as an endpoint (not contacted)."""
    for path in podman_sockets(env, uid):
        if _is_socket(path):
            kind = "rootful" if path == ROOTFUL_SOCKET else "rootless"
            return Endpoint(f"unix://{path}", f"podman {kind} socket")
    return None


DOCKER_SOCKET = DEFAULT_HOST.removeprefix("unix://")


def resolve_engine(
    docker_host: str | None = None,
    env: Mapping[str, str] | None = None,
    uid: int | None = None,
    docker_socket: str = DOCKER_SOCKET,
) -> Endpoint:
    """``resolve_endpoint``, falling back to a Podman socket where the default Docker socket is
    missing (a box with Podman only)."""
    endpoint = resolve_endpoint(docker_host, env)
    if endpoint.source != "default" or _is_socket(docker_socket):
        return endpoint
    return find_podman(env, uid) or endpoint


def probe_engine(endpoint: Endpoint, timeout: float = 5) -> EngineKind:
    """Ask the engine for ``/version`` and ``/info`` (blocking); EngineError when it does not
    answer."""
    client = None
    try:
        client = make_client(endpoint, timeout)
        return engine_kind(client.version(), client.info())
    except Exception as exc:  # the SDK raises requests/urllib3/OS errors as well as its own
        raise translate(exc, host=endpoint.host) from None
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
