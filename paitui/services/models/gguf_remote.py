"""Read a GGUF header without downloading the model: HTTP Range requests, or a local prefix.

The first read takes ``FIRST_READ`` bytes; while ``parse_gguf_layout`` says the header goes on
(``GgufNeedMore``), the next range is fetched and appended, up to ``MAX_HEADER_BYTES`` and
``MAX_ROUNDS`` reads. A server that ignores ``Range`` (200 with the whole file) is read only as
far as needed and the connection dropped. Errors come back as ``HeaderUnavailable`` with a
sentence for the user; nothing is written to disk.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from paitui.domain.models.gguf_layout import (
    MAX_HEADER_BYTES,
    GgufBad,
    GgufLayout,
    GgufNeedMore,
    parse_gguf_layout,
)

#: Most headers without a vocabulary fit here; llama-3-style vocabularies take ~8 MB more.
FIRST_READ = 1 << 20
MAX_ROUNDS = 12
TIMEOUT_S = 15.0
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class HeaderUnavailable(Exception):
    """The header could not be had; the message says why and what to do."""


def read_local_layout(path: Path) -> GgufLayout:
    """The layout of a local GGUF, reading only a growing prefix of it."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise HeaderUnavailable(f"{path} is not a regular file")
        with open(path, "rb") as fh:
            buf = fh.read(min(FIRST_READ, st.st_size))
            for _ in range(MAX_ROUNDS):
                try:
                    return parse_gguf_layout(buf, st.st_size)
                except GgufNeedMore as more:
                    buf += fh.read(more.size - len(buf))
    except GgufBad as err:
        raise HeaderUnavailable(f"{path.name}: {err}") from None
    except OSError as err:
        raise HeaderUnavailable(f"cannot read {path}: {err.strerror or err}") from None
    raise HeaderUnavailable(f"{path.name}: the GGUF header did not end within {MAX_ROUNDS} reads")


def read_remote_layout(
    url: str, *, headers: dict[str, str] | None = None, client: Any = None
) -> GgufLayout:
    """The layout of the GGUF at ``url`` (a Hub ``resolve`` URL), by Range requests."""
    import httpx

    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_S, follow_redirects=True)
    try:
        buf = b""
        size: int | None = None
        want = FIRST_READ
        for _ in range(MAX_ROUNDS):
            chunk, size = _fetch(http, url, len(buf), want, headers or {}, size)
            buf += chunk
            try:
                return parse_gguf_layout(buf, size)
            except GgufNeedMore as more:
                want = min(more.size, MAX_HEADER_BYTES)
                if size is not None and len(buf) >= size:
                    break
        raise HeaderUnavailable(f"{_name(url)}: the GGUF header did not end where it should")
    except GgufBad as err:
        raise HeaderUnavailable(f"{_name(url)}: {err}") from None
    except httpx.HTTPError as err:
        raise HeaderUnavailable(
            f"{_name(url)}: could not read its header ({type(err).__name__}: {err}); "
            "check the connection and try again"
        ) from None
    finally:
        if own:
            http.close()


def _fetch(
    http: Any, url: str, start: int, stop: int, headers: dict[str, str], size: int | None
) -> tuple[bytes, int | None]:
    """Bytes ``[start, stop)`` of ``url`` and the file's size when the server says it."""
    if size is not None:
        stop = min(stop, size)
    if stop <= start:
        return b"", size
    # identity: a compressed body would make byte offsets meaningless
    rng = {"Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
    with http.stream("GET", url, headers={**headers, **rng}) as resp:
        if resp.status_code == 416:
            return b"", size if size is not None else start
        if resp.status_code in (401, 403):
            raise HeaderUnavailable(
                f"{_name(url)}: the Hub refused access ({resp.status_code}); "
                "a gated or private repo needs a token (HF_TOKEN or `hf auth login`)"
            )
        if resp.status_code == 404:
            raise HeaderUnavailable(f"{_name(url)}: not found on the Hub (404)")
        if resp.status_code not in (200, 206):
            raise HeaderUnavailable(f"{_name(url)}: the Hub answered {resp.status_code}")
        skip = 0
        if resp.status_code == 206:
            m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != start:
                raise HeaderUnavailable(f"{_name(url)}: the server sent another range than asked")
            if m.group(3) != "*":
                size = int(m.group(3))
        else:
            # Range ignored: the whole file comes; skip what was had and stop at ``stop``.
            skip = start
            length = resp.headers.get("Content-Length", "")
            size = int(length) if length.isdigit() else size
        out = bytearray()
        for part in resp.iter_bytes():
            if skip:
                cut = min(skip, len(part))
                part, skip = part[cut:], skip - cut
            out += part
            if len(out) >= stop - start:
                break
        return bytes(out[: stop - start]), size


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("?", 1)[0] or url
