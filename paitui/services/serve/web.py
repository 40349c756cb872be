"""textual-serve's web server with ``ServeGuard`` in front of every route.

Imported only by ``paitui serve`` (aiohttp and textual-serve cost start-up time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from textual_serve.server import Server

from paitui.services.serve.guard import ServeGuard


class _RedactToken(logging.Filter):
    """Takes the token out of every log line (the access log shows ``/?token=...``)."""

    def __init__(self, guard: ServeGuard) -> None:
        super().__init__()
        self.guard = guard

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.guard.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def guard_middleware(guard: ServeGuard) -> Middleware:
    """An aiohttp middleware that answers a refused request with 403 and one line."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        query_token = request.query.get("token")
        refusal = guard.check(
            host=request.headers.get("Host"),
            origin=request.headers.get("Origin"),
            query_token=query_token,
            cookie_token=request.cookies.get(guard.cookie_name),
        )
        if refusal is not None:
            return web.Response(
                status=refusal.status,
                text=refusal.message + "\n",
                headers={"Cache-Control": "no-store"},
            )
        response = await handler(request)
        if not response.prepared:  # a WebSocket or a download is already under way
            # The page's URL holds the token: never send it on as a Referer.
            response.headers["Referrer-Policy"] = "no-referrer"
            if query_token is not None:
                # The page's own script opens the WebSocket without ?token=: the cookie carries
                # it. Strict keeps it off requests that other sites start.
                response.set_cookie(
                    guard.cookie_name,
                    guard.token,
                    httponly=True,
                    samesite="Strict",
                    secure=guard.secure or None,
                    path="/",
                )
        return response

    return middleware


class GuardedServer(Server):
    """textual-serve's Server: every request checked by ``guard``, the token never logged."""

    def __init__(
        self, command: str, guard: ServeGuard, host: str, port: int, public_url: str | None
    ) -> None:
        super().__init__(
            command, host=host, port=port, title="paitui", public_url=public_url or guard.base_url
        )
        self.guard = guard
        #: Without --public-url the page's WebSocket URL follows the (checked) Host the browser
        #: used: a cookie set for localhost is not sent to 127.0.0.1.
        self.fixed_public_url = public_url is not None

    def initialize_logging(self) -> None:
        super().initialize_logging()
        for handler in logging.getLogger().handlers:
            handler.addFilter(_RedactToken(self.guard))

    async def _make_app(self) -> web.Application:
        app: web.Application = await super()._make_app()
        app.middlewares.append(guard_middleware(self.guard))
        return app

    async def on_startup(self, app: web.Application) -> None:
        """Say nothing yet: the URL is printed once the port is bound (``serve``)."""

    def serve(self, debug: bool = False) -> None:
        """Run until SIGINT or SIGTERM, as textual-serve's ``serve`` does."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
                loop.add_signal_handler(sig, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            print=self._print_url,
        )

    def _print_url(self, *_: object) -> None:
        # run_app calls this once the sockets listen. Plain print: the URL must stay on one
        # line (the rich console wraps it when piped).
        print(
            "paitui serve: open this URL in a browser (it holds the access token, keep it "
            f"private):\n    {self.guard.open_url}\nPress Ctrl+C to stop.",
            flush=True,
        )

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, with its WebSocket and static URLs on the address the browser used."""
        if self.fixed_public_url:
            base = self.public_url.rstrip("/")
        else:
            base = f"http://{request.headers['Host']}"
        ws_base = "ws" + base.removeprefix("http")  # http: -> ws:, https: -> wss:
        try:
            font_size = int(request.query.get("fontsize", "16"))
        except ValueError:
            font_size = 16
        context = {
            "font_size": font_size,
            "app_websocket_url": f"{ws_base}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        response: web.StreamResponse = aiohttp_jinja2.render_template(
            "app_index.html", request, context
        )
        return response
