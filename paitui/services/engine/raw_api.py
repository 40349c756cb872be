"""The few engine requests the docker SDK's public API cannot make the way paitui needs them.

Why the SDK's private ``APIClient`` methods (``_url``, ``_get``/``_post``,
``_raise_for_status``, ``_stream_helper``, ``_result``): the public ``api.pull(stream=True)``
returns a bare generator without its HTTP response, so a pull stuck waiting on the engine cannot
be interrupted (closing the response is the only way); and ``api.ping()`` takes no timeout, so a
frozen engine would hang the heartbeat for the client's whole timeout.

Checked against docker SDK 7.2.0 (``docker/api/client.py``; the pinned test environment's
version). Every use of those private names is in this module: when an SDK upgrade
breaks one, this is the one file to mend, and ``tests/engine`` exercises each helper on the real
engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

if TYPE_CHECKING:
    import docker
    import requests
    from docker.types.daemon import CancellableStream


class _PrivateAPI(Protocol):
    """The private ``docker.APIClient`` methods used here (absent from the SDK's type stubs)."""

    def _url(self, pathfmt: str, *args: str) -> str: ...
    def _get(self, url: str, **kwargs: object) -> requests.Response: ...
    def _post(self, url: str, **kwargs: object) -> requests.Response: ...
    def _raise_for_status(self, response: requests.Response) -> None: ...
    def _stream_helper(
        self, response: requests.Response, decode: bool = False
    ) -> Iterator[dict[str, Any]]: ...
    def _result(
        self, response: requests.Response, json: bool = False, binary: bool = False
    ) -> object: ...


def _api(client: docker.DockerClient) -> _PrivateAPI:
    return cast("_PrivateAPI", client.api)


def json_stream(
    client: docker.DockerClient,
    method: Literal["GET", "POST"],
    path: str,
    *path_args: str,
    params: Mapping[str, object] | None = None,
    headers: Mapping[str, str | bytes] | None = None,
    wait_forever: bool = False,
) -> CancellableStream[dict[str, Any]]:
    """A streamed JSON answer (one decoded object per message) that ``close()`` interrupts.

    Each read waits the client's timeout, or without bound when ``wait_forever`` (a pull's
    engine may say nothing for minutes while it extracts a big layer).

    Raises the SDK's own errors (``docker.errors.APIError`` and the like) for a refused request,
    as the public methods do; callers translate them.
    """
    from docker.types.daemon import CancellableStream

    api = _api(client)
    send = api._get if method == "GET" else api._post
    extra: dict[str, object] = {"timeout": None} if wait_forever else {}
    response = send(
        api._url(path, *path_args),
        params=dict(params or {}),
        headers=dict(headers or {}),
        stream=True,
        **extra,
    )
    api._raise_for_status(response)
    return CancellableStream(api._stream_helper(response, decode=True), response)


def ping(client: docker.DockerClient, timeout: float) -> None:
    """``GET /_ping`` bounded by ``timeout`` seconds; raises when the engine does not answer."""
    api = _api(client)
    api._result(api._get(api._url("/_ping"), timeout=timeout))
