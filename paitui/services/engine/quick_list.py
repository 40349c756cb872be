"""The managed containers in one request on the engine's Unix socket, before the SDK is loaded.

paitui's first list on screen should wait neither for the docker SDK (importing it takes longer
than painting the first frame) nor for one inspect per container: the engine's
``/containers/json`` already says each container's state, name, image, labels and published
ports. What it lacks (start and finish times) comes with the event stream's full listing a moment
later, which replaces this one. Only local Unix sockets (Docker's or Podman's): any other endpoint,
any error, or no answer within the deadline gives None, and the full listing is the first.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import quote

from paitui.domain.engine.containers import (
    APP_LABEL,
    MANAGED_LABEL,
    VARIANT_LABEL,
    ContainerInfo,
    ContainerStatus,
    PublishedPort,
)
from paitui.services.engine.local_socket import socket_get, socket_path

#: Longest wait for the answer: past it the full listing is as quick.
QUICK_LIST_TIMEOUT_S = 1.5
_FILTERS = quote(json.dumps({"label": [f"{MANAGED_LABEL}=true"]}, separators=(",", ":")))
#: "Exited (137) 3 minutes ago", "Restarting (1) 2 seconds ago": the exit code the inspect says.
_EXITED = re.compile(r"^(?:Exited|Restarting) \((-?\d+)\)")


def info_from_summary(raw: dict[str, Any]) -> ContainerInfo:
    """A ContainerInfo from one ``/containers/json`` entry (no start or finish time)."""
    labels = {str(k): str(v) for k, v in (raw.get("Labels") or {}).items()}
    ports = tuple(
        PublishedPort(
            int(p.get("PrivatePort") or 0),
            str(p.get("Type") or "tcp"),
            str(p.get("IP") or ""),
            int(p.get("PublicPort") or 0),
        )
        for p in raw.get("Ports") or ()
        if p.get("PublicPort")  # exposed but not published: the full listing leaves it out too
    )
    status = ContainerStatus.read(raw.get("State"))
    exit_code = None
    if status != ContainerStatus.RUNNING:
        found = _EXITED.match(str(raw.get("Status") or ""))
        exit_code = int(found.group(1)) if found else 0  # as the inspect's State.ExitCode
    names = raw.get("Names") or [""]
    return ContainerInfo(
        id=str(raw.get("Id", "")),
        name=str(names[0]).lstrip("/"),
        app_id=labels.get(APP_LABEL, ""),
        variant=labels.get(VARIANT_LABEL, ""),
        image=str(raw.get("Image", "")),
        status=status,
        exit_code=exit_code,
        ports=ports,
        labels=labels,
    )


async def list_managed_quick(
    host: str, timeout: float = QUICK_LIST_TIMEOUT_S
) -> list[ContainerInfo] | None:
    """Every managed container from one ``GET /containers/json`` (None when not answered)."""
    path = socket_path(host)
    if path is None:
        return None
    try:
        body = await asyncio.wait_for(
            socket_get(path, f"/containers/json?all=1&filters={_FILTERS}"), timeout
        )
        entries = json.loads(body)
        if not isinstance(entries, list):
            return None
        return [info_from_summary(e) for e in entries if isinstance(e, dict)]
    except (OSError, ValueError, TypeError, AttributeError, TimeoutError):
        return None
