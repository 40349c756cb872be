"""``paitui serve`` against a real server subprocess, with real HTTP and WebSocket clients.

The attacks from issue 11: a page on another origin opening the WebSocket (even holding the
token), requests without or with a wrong token, and a foreign Host (DNS rebinding). And the
other side: the printed URL gets the page, and its WebSocket runs the UI.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from paitui.services.serve.guard import REDACTED
from tests.helpers import free_port, wait_until

URL_LINE = re.compile(r"^\s+(http://\S+/\?token=(\S+))$")
#: A section title of the home screen: the app itself drew it, not the page around it.
APP_TEXT = b"Runs on this box"


@dataclass
class Served:
    """One running ``paitui serve`` and everything it printed so far."""

    proc: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)
    url: str = ""
    token: str = ""

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"paitui_token_{self.port}={self.token}"}

    def output(self) -> str:
        return "".join(self.lines)


def start_serve(tmp: Path, *extra: str, env: dict[str, str] | None = None) -> Served:
    """Start ``paitui --demo serve`` on a free port; wait for the URL it prints."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if k != "PAITUI_SERVE_TOKEN"}
    full_env |= {
        "PYTHONUNBUFFERED": "1",
        "PAITUI_CONFIG_DIR": str(tmp / "config"),
        "PAITUI_STATE_DIR": str(tmp / "state"),
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "paitui", "--demo", "serve", "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
    )
    served = Served(proc, port)
    printed = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            served.lines.append(line)
            if (m := URL_LINE.match(line.rstrip("\n"))) and not printed.is_set():
                served.url, served.token = m.group(1), m.group(2)
                printed.set()
        printed.set()  # the process ended: do not keep the test waiting

    threading.Thread(target=read, daemon=True).start()
    if not printed.wait(timeout=30) or not served.token:
        stop(served)
        raise AssertionError(f"paitui serve printed no URL:\n{served.output()}")
    return served


def stop(served: Served) -> None:
    served.proc.terminate()
    try:
        served.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = start_serve(tmp_path_factory.mktemp("serve"))
    yield s
    stop(s)


async def status_of(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=headers or {}, allow_redirects=False) as response,
    ):
        return response.status, await response.text()


async def websocket_status(url: str, headers: dict[str, str], origin: str | None) -> int:
    """101 when the handshake succeeds, else the status the server answered."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers, origin=origin):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def app_output(url: str, headers: dict[str, str], origin: str, want: bytes) -> bytes:
    """What the app sends over the WebSocket, until ``want`` appears (20 s at most)."""
    received = b""
    deadline = time.monotonic() + 20
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers=headers, origin=origin) as ws,
    ):
        while want not in received:
            left = deadline - time.monotonic()
            assert left > 0, f"no {want!r} from the app in 20 s; got {received[-500:]!r}"
            msg = await ws.receive(timeout=left)
            if msg.type == aiohttp.WSMsgType.BINARY:
                received += msg.data
            elif msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"the WebSocket ended ({msg.type}): {received[-500:]!r}")
    return received


async def test_serve_answers_on_loopback(served: Served) -> None:
    """The printed URL gets the page, sets the cookie, and the page's WebSocket runs the UI."""
    assert served.url == f"{served.origin}/?token={served.token}"
    assert len(served.token) >= 40
    async with aiohttp.ClientSession() as session, session.get(served.url) as response:
        assert response.status == 200
        html = await response.text()
        cookie = response.headers["Set-Cookie"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "paitui" in html and "textual" in html.lower()
    assert f'data-session-websocket-url="ws://127.0.0.1:{served.port}/ws"' in html
    assert cookie.startswith(f"paitui_token_{served.port}={served.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # The page's script and style load with the cookie alone, as a browser sends them.
    for path in ("/static/js/textual.js", "/static/css/xterm.css"):
        status, _ = await status_of(served.origin + path, served.cookie)
        assert status == 200, path
    # The page's script opens /ws?width=..&height=.. from the page's origin, with the cookie.
    out = await app_output(
        f"{served.origin}/ws?width=100&height=30", served.cookie, served.origin, APP_TEXT
    )
    assert APP_TEXT in out


async def test_page_opened_as_localhost_connects_back_to_localhost(served: Served) -> None:
    """The cookie is per host name: the page's WebSocket must use the name the browser used."""
    status, html = await status_of(served.url, {"Host": f"localhost:{served.port}"})
    assert status == 200
    assert f'data-session-websocket-url="ws://localhost:{served.port}/ws"' in html
    assert f'href="http://localhost:{served.port}/static/css/xterm.css"' in html
    origin = f"http://localhost:{served.port}"
    status = await websocket_status(
        f"{served.origin}/ws", {**served.cookie, "Host": f"localhost:{served.port}"}, origin
    )
    assert status == 101


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://evil.example:{port}",
        "http://127.0.0.1.evil.example:{port}",
        "null",
        "http://127.0.0.1:{other}",
        "http://localhost:{other}",
        "https://127.0.0.1:{port}",
        "http://127.0.0.1",
    ],
)
async def test_cross_origin_websocket_is_refused_even_with_the_token(
    served: Served, origin: str
) -> None:
    """Issue 11's attack: another page in the user's browser opens the WebSocket."""
    origin = origin.format(port=served.port, other=served.port + 1)
    for url, headers in [
        (f"{served.origin}/ws", served.cookie),
        (f"{served.origin}/ws?token={served.token}", {}),
    ]:
        assert await websocket_status(url, headers, origin) == 403, (origin, url)
    # The page and its files refuse that origin too (a fetch() from the other page).
    status, text = await status_of(served.url, {"Origin": origin})
    assert status == 403 and "only this server's own page" in text
    # The same request from the server's own origin goes through: the Origin made the difference.
    assert await websocket_status(f"{served.origin}/ws", served.cookie, served.origin) == 101


def wrong_tokens(token: str) -> list[tuple[str, dict[str, str]]]:
    """(query, extra headers) pairs that must all be refused."""
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    port_cookie = "paitui_token_{port}"
    return [
        ("", {}),
        ("?token=", {}),
        (f"?token={flipped}", {}),
        (f"?token={token[:-1]}", {}),
        (f"?token={token}x", {}),
        (f"?token={token.upper() if token.upper() != token else token.lower()}", {}),
        ("?token=%C3%A9t%C3%A9", {}),
        ("", {"Cookie": f"{port_cookie}={flipped}"}),
        ("", {"Cookie": f"{port_cookie}="}),
        ("", {"Cookie": f"paitui_token_1={token}"}),
        # A wrong ?token= is not rescued by a right cookie.
        (f"?token={flipped}", {"Cookie": f"{port_cookie}={token}"}),
        ("", {"Authorization": f"token {token}"}),
    ]


async def test_page_files_and_websocket_need_the_right_token(served: Served) -> None:
    cases = wrong_tokens(served.token)
    paths = ["/", "/static/js/textual.js", "/static/", "/download/x", "/nothing"]
    tried = 0
    for query, raw_headers in cases:
        headers = {k: v.format(port=served.port) for k, v in raw_headers.items()}
        for path in paths:
            status, text = await status_of(f"{served.origin}{path}{query}", headers)
            assert status == 403, (path, query, headers)
            assert "printed" in text and served.token not in text
            tried += 1
        status = await websocket_status(f"{served.origin}/ws{query}", headers, served.origin)
        assert status == 403, ("/ws", query, headers)
        tried += 1
    assert tried == len(cases) * (len(paths) + 1)


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",
        "evil.example",
        "127.0.0.1:{other}",
        "127.0.0.2:{port}",
        "localhost.:{port}",
        "0.0.0.0:{port}",
    ],
)
async def test_foreign_host_is_refused(served: Served, host: str) -> None:
    """DNS rebinding: a page on evil.example, its name now pointing at 127.0.0.1."""
    host = host.format(port=served.port, other=served.port + 1)
    status, text = await status_of(served.url, {"Host": host})
    assert status == 403 and "DNS rebinding" in text
    # What the rebound page sends: its own Host and Origin (same-origin to the browser).
    ws_status = await websocket_status(
        f"{served.origin}/ws?token={served.token}", {"Host": host}, f"http://{host}"
    )
    assert ws_status == 403


def test_a_request_without_host_is_refused(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(f"GET /?token={served.token} HTTP/1.0\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 403") or answer.startswith(b"HTTP/1.1 403"), answer[:80]


async def test_the_token_is_printed_once_and_never_logged(served: Served) -> None:
    """The access log shows ``/?token=<token>``: not the token, nor a near miss of it."""
    assert (await status_of(f"{served.url}&marker=right"))[0] == 200
    near_miss = served.token[:-1]
    assert (await status_of(f"{served.origin}/?token={near_miss}&marker=near"))[0] == 403

    def logged() -> str:
        # The rich log wraps long lines: compare without whitespace.
        squeezed = re.sub(r"\s+", "", served.output())
        return squeezed if "marker=right" in squeezed and "marker=near" in squeezed else ""

    squeezed = wait_until(logged, timeout=10, what="the access log lines")
    assert f"?token={REDACTED}&marker=right" in squeezed
    assert f"?token={REDACTED}&marker=near" in squeezed
    assert squeezed.count(served.token[:16]) == 1, "the token appears outside the printed URL"


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after the ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


async def environ_of_the_app(s: Served) -> str:
    """The environment of the app a WebSocket session starts, read while it runs."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{s.origin}/ws", headers=s.cookie, origin=s.origin) as ws,
    ):
        received = b""
        deadline = time.monotonic() + 20
        while APP_TEXT not in received:
            assert time.monotonic() < deadline, "the app drew nothing in 20 s"
            msg = await ws.receive(timeout=20)
            assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg
            received += msg.data if msg.type == aiohttp.WSMsgType.BINARY else b""
        apps = children(s.proc.pid)
        assert apps, "no app process under the server"
        return "".join(Path(f"/proc/{pid}/environ").read_text(errors="replace") for pid in apps)


def test_fixed_token_from_the_environment(tmp_path: Path) -> None:
    token = "fixed-Token_0123456789.~"
    s = start_serve(tmp_path, env={"PAITUI_SERVE_TOKEN": token})
    try:
        assert s.token == token
        status, _ = asyncio.run(status_of(s.url))
        assert status == 200
        status, _ = asyncio.run(status_of(f"{s.origin}/?token=random"))
        assert status == 403
        # The apps the sessions start are not handed the token.
        environ = asyncio.run(environ_of_the_app(s))
        assert "PAITUI_STATE_DIR=" in environ and token not in environ
    finally:
        stop(s)


def test_a_bad_fixed_token_is_reported_and_a_random_one_used(tmp_path: Path) -> None:
    s = start_serve(tmp_path, env={"PAITUI_SERVE_TOKEN": "short"})
    try:
        assert s.token != "short" and len(s.token) >= 40
        text = s.output()
        assert "PAITUI_SERVE_TOKEN=(hidden): expected at least 16" in text
        assert "short" not in text
    finally:
        stop(s)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--public-url", "ftp://box"], "expected http://NAME[:PORT]"),
        (["--public-url", "http://box:99999"], "not a number from 0 to 65535"),
        (["--port", "0"], "expected a port from 1 to 65535"),
    ],
)
def test_bad_options_are_refused_with_a_hint(args: list[str], expected: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "paitui", "serve", *args], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2, out
    assert expected in out.stderr and "Traceback" not in out.stderr


def test_a_port_in_use_gets_a_clear_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "paitui", "--demo", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert out.returncode == 1, out
    assert f"cannot serve on 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr
