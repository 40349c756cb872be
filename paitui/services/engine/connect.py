"""Which Docker engine to talk to: settings, ``DOCKER_HOST``, the docker context, the default.

Order: ``Settings.docker_host`` (the user said so for paitui), then ``DOCKER_HOST`` (with
``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``), then ``DOCKER_CONTEXT`` or ``currentContext`` in
``$DOCKER_CONFIG/config.json`` (endpoint and TLS files from ``contexts/``), then the default socket.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Endpoint:
    """A resolved engine address and where it came from."""

    host: str
    source: str  # "settings", "DOCKER_HOST", "context <name>", "default"
    tls_verify: bool = False
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    skip_tls_verify: bool = False


def _docker_config_dir(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME") or Path.home()) / ".docker"


def _context_endpoint(name: str, config_dir: Path) -> Endpoint | None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta_file = config_dir / "contexts" / "meta" / digest / "meta.json"
    try:
        meta: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    docker_ep = (meta.get("Endpoints") or {}).get("docker") or {}
    host = docker_ep.get("Host")
    if not host:
        return None
    tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
    files = {n: tls_dir / n for n in ("ca.pem", "cert.pem", "key.pem")}
    has = {n: p.is_file() for n, p in files.items()}
    return Endpoint(
        host=str(host),
        source=f"context {name}",
        tls_verify=has["ca.pem"] and not docker_ep.get("SkipTLSVerify", False),
        ca_cert=str(files["ca.pem"]) if has["ca.pem"] else None,
        client_cert=str(files["cert.pem"]) if has["cert.pem"] else None,
        client_key=str(files["key.pem"]) if has["key.pem"] else None,
        skip_tls_verify=bool(docker_ep.get("SkipTLSVerify", False)),
    )


def resolve_endpoint(
    docker_host: str | None = None, env: Mapping[str, str] | None = None
) -> Endpoint:
    """The engine paitui should use (see the module docstring for the order)."""
    env = os.environ if env is None else env
    if docker_host:
        return Endpoint(docker_host, "settings")
    if env.get("DOCKER_HOST"):
        cert_path = env.get("DOCKER_CERT_PATH")
        verify = env.get("DOCKER_TLS_VERIFY", "") not in ("", "0")
        return Endpoint(
            env["DOCKER_HOST"],
            "DOCKER_HOST",
            tls_verify=verify,
            ca_cert=str(Path(cert_path) / "ca.pem") if cert_path else None,
            client_cert=str(Path(cert_path) / "cert.pem") if cert_path else None,
            client_key=str(Path(cert_path) / "key.pem") if cert_path else None,
        )
    config_dir = _docker_config_dir(env)
    name = env.get("DOCKER_CONTEXT")
    if not name:
        try:
            name = json.loads((config_dir / "config.json").read_text(encoding="utf-8")).get(
                "currentContext"
            )
        except (OSError, ValueError, AttributeError):
            name = None
    if name and name != "default":
        ep = _context_endpoint(name, config_dir)
        if ep is not None:
            return ep
    return Endpoint(DEFAULT_HOST, "default")


def make_client(endpoint: Endpoint, timeout: float = 60) -> docker.DockerClient:
    """A docker SDK client for the endpoint (does not contact the engine)."""
    from paitui.services.engine.sdk import load_docker

    load_docker(ssh=endpoint.host.startswith("ssh://"))
    import docker
    import docker.tls

    tls: docker.tls.TLSConfig | bool = False
    if endpoint.host.startswith(("tcp://", "https://")) and (
        endpoint.tls_verify or endpoint.client_cert
    ):
        cert = (
            (endpoint.client_cert, endpoint.client_key)
            if endpoint.client_cert and endpoint.client_key
            else None
        )
        tls = docker.tls.TLSConfig(
            client_cert=cert,
            ca_cert=endpoint.ca_cert if endpoint.tls_verify else None,
            verify=endpoint.tls_verify and not endpoint.skip_tls_verify,
        )
    client = docker.DockerClient(
        base_url=endpoint.host,
        tls=tls,
        timeout=int(timeout),
        use_ssh_client=endpoint.host.startswith("ssh://"),
    )
    if endpoint.host.startswith(("unix://", "npipe://", "ssh://")):
        # No proxy or ~/.netrc ever stands between paitui and a local socket or an SSH tunnel,
        # and looking them up scans the environment twice a request (a third of a stats call).
        client.api.trust_env = False
    return client
