"""Reading docker contexts from ``$DOCKER_CONFIG`` (``~/.docker``): every context's metadata, its
TLS files, and which one is current (``DOCKER_CONTEXT``, else ``currentContext`` in config.json).

The files are the docker CLI's; paitui only reads them. An unreadable context is a problem
message, not an error.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from paitui.domain.fleet.hosts import ContextMeta


def docker_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG``, else ``$HOME/.docker``."""
    env = os.environ if env is None else env
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME") or Path.home()) / ".docker"


def current_context(env: Mapping[str, str] | None = None) -> str | None:
    """The context ``docker context use`` chose (or ``DOCKER_CONTEXT``); None for none."""
    env = os.environ if env is None else env
    if env.get("DOCKER_CONTEXT"):
        return env["DOCKER_CONTEXT"]
    try:
        data = json.loads((docker_config_dir(env) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("currentContext") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def read_contexts(env: Mapping[str, str] | None = None) -> tuple[list[ContextMeta], list[str]]:
    """Every context under ``contexts/meta``, and a message for each one that cannot be read."""
    base = docker_config_dir(env) / "contexts"
    contexts: list[ContextMeta] = []
    problems: list[str] = []
    try:
        metas = sorted((base / "meta").glob("*/meta.json"))
    except OSError:
        return [], []
    for meta_file in metas:
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"docker context in {meta_file.parent}: cannot read it ({exc})")
            continue
        name = meta.get("Name") if isinstance(meta, dict) else None
        if not isinstance(name, str) or not name:
            problems.append(f"docker context in {meta_file.parent}: no Name in meta.json")
            continue
        digest = hashlib.sha256(name.encode()).hexdigest()
        tls_dir = base / "tls" / digest / "docker"
        tls = {n: str(tls_dir / n) for n in ("ca.pem", "cert.pem", "key.pem")}
        contexts.append(
            ContextMeta(name, meta, {n: p for n, p in tls.items() if Path(p).is_file()})
        )
    return contexts, problems
