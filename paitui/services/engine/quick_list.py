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
import contextlib
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

#: Longest wait for the answer: past it the full listing is as quick.
QUICK_LIST_TIMEOUT_S = 1.5
#: Largest answer read (50 containers are ~60 KB): a bigger one is left to the full listing.
MAX_ANSWER_BYTES = 8 * 2**20
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


def socket_path(host: str) -> str | None:
    """The Unix socket of a ``unix://`` engine address; None for any other kind."""
    if host.startswith("unix://"):
        return host.removeprefix("unix://") or None
    return None


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


async def socket_get(path: str, target: str) -> bytes:
    """The body of a 200 answer to an HTTP/1.0 GET on the engine's Unix socket (HTTP/1.0, so
    the engine closes: no chunked body); OSError or ValueError when there is none."""
    reader, writer = await asyncio.open_unix_connection(path, limit=MAX_ANSWER_BYTES)
    try:
        writer.write(f"GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode("ascii"))
        await writer.drain()
        answer = b""
        while len(answer) <= MAX_ANSWER_BYTES and (
            chunk := await reader.read(MAX_ANSWER_BYTES + 1 - len(answer))
        ):
            answer += chunk
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if len(answer) > MAX_ANSWER_BYTES:
        raise ValueError("answer too large")
    head, sep, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if not sep or len(status) < 2 or status[1] != b"200":
        raise ValueError(f"engine answered {head[:80]!r}")
    return body
