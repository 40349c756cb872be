"""The HTTP side of a download: one ranged GET through the hub's redirects, what its answer
means, and the messages for answers and failures.

The token goes to the hub's own origin only, never to the CDN it redirects to.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from paitui.domain.models.records import TRANSIENT_STATUS, Download, parse_retry_after
from paitui.services.models.download_errors import DownloadError, Refused, Transient
from paitui.services.models.hub import HubConfig, auth_message

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 10


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of ``url``."""
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


def wake(response: httpx.Response) -> None:
    """End a read another thread is blocked in: closing an httpx response from here does not
    (the read waits for its timeout), shutting its socket down does, at once."""
    import socket

    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


def open_ranged(client: httpx.Client, hub: HubConfig, url: str, offset: int) -> httpx.Response:
    """GET ``url`` from ``offset``, following redirects; the token only goes to the hub."""
    import httpx

    hub_origin = origin(hub.endpoint)
    headers = {"Accept-Encoding": "identity", "User-Agent": "paitui"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    for _hop in range(MAX_REDIRECTS):
        h = dict(headers)
        if origin(url) == hub_origin:
            h.update(hub.auth_headers())
        response = client.send(client.build_request("GET", url, headers=h), stream=True)
        if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
            url = urljoin(url, response.headers["location"])
            response.close()
            continue
        return response
    raise httpx.TooManyRedirects("too many redirects")


def accepted_offset(response: httpx.Response, offset: int, d: Download, hub: HubConfig) -> int:
    """Where the answer's body starts: ``offset``, or 0 when the server ignored the Range and
    sends the whole file. Raises ``Transient`` (retry), ``Refused`` or ``DownloadError``."""
    status = response.status_code
    size = d.file.size
    if status == 206:
        crange = response.headers.get("content-range", "")
        try:
            start = int(crange.split()[1].split("-")[0])
        except (IndexError, ValueError):
            start = -1
        if start == offset:
            return offset
        raise DownloadError(f"{d.id}: the server sent an unexpected byte range ({crange})")
    if status == 200:
        return 0  # a full body: start over cleanly
    if status == 416 and size is not None and offset >= size:
        return offset
    if status == 416 and size is not None:
        raise Refused(
            f"{d.id}: the hub has only {offset} of the {size} bytes it announced; "
            "the data was removed (pull again later)"
        )
    if status in TRANSIENT_STATUS:
        retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
        raise Transient(status, retry_after)
    raise DownloadError(
        http_message(status, response.headers, d, has_token=bool(hub.token), endpoint=hub.endpoint)
    )


def why(exc: BaseException) -> str:
    """A short reason for a failed request."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "no data within the read timeout"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def status_reason(status: int) -> str:
    """A short reason for a retryable answer."""
    if status == 429:
        return "the hub is rate limiting requests (HTTP 429)"
    return f"the hub answered HTTP {status}"


def give_up_message(
    d: Download, status: int | None, reason: str, gave_up: str, failures: int, stalled: bool
) -> str:
    """Why a download stopped retrying, with what to do."""
    if status == 429:
        return (
            f"{d.id}: the hub is rate limiting requests (HTTP 429; {gave_up}): wait a few "
            "minutes (a token in HF_TOKEN gets higher limits)"
        )
    if status is not None:
        return f"{d.id}: the hub answered HTTP {status} ({gave_up}): it is having trouble"
    kind = "stalled" if stalled else "failed"
    return f"{d.id}: download {kind} {failures} times in a row ({reason}; {gave_up})"


def http_message(
    status: int,
    headers: Mapping[str, str],
    d: Download,
    *,
    has_token: bool = False,
    endpoint: str = "https://huggingface.co",
) -> str:
    """What a refused answer means for the user, with what to do."""
    code = headers.get("x-error-code", "")
    if code == "GatedRepo":
        return f"{d.repo_id} is gated: accept its terms on the hub and set HF_TOKEN"
    if code == "RepoNotFound":
        hint = "check that your token can read it" if has_token else "or is private: set HF_TOKEN"
        return f"{d.repo_id} was not found ({hint})"
    if status in (401, 403):
        return auth_message(status, d.repo_id, has_token=has_token, endpoint=endpoint)
    if code == "RevisionNotFound":
        return f"{d.repo_id} has no revision {d.revision}"
    if code == "EntryNotFound" or status == 404:
        return f"{d.id}: the file is not on the hub at {d.revision[:12]}"
    return f"{d.id}: the hub answered HTTP {status}"
