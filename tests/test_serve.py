"""``paitui serve`` answers a browser on 127.0.0.1 with the textual-serve page."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.helpers import free_port, wait_until


def test_serve_answers_on_loopback() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "paitui", "--demo", "serve", "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def page() -> str | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text
            except httpx.HTTPError:
                return None

        html = wait_until(page, timeout=20, what="the served page")
        assert "paitui" in html and "textual" in html.lower()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
