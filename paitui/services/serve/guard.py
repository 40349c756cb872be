"""Who may use ``paitui serve``: the per-run token, and the Host and Origin headers allowed.

The served UI drives Docker with root-equivalent rights, so every request (page, static files,
WebSocket) must carry the token, either in ``?token=`` (the printed URL) or in the cookie that
URL sets, and must come from this server's own origin under one of its own host names: a foreign
Origin is another web page in the user's browser, a foreign Host is DNS rebinding.

Pure logic, no aiohttp: ``paitui.services.serve.web`` applies it to each request.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Names a browser on this machine may use for a server listening on loopback.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
#: Listen addresses that mean "every interface": not a name a browser can use.
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})
#: Stands for the token wherever text that might hold it is logged.
REDACTED = "<token>"
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: A ``token=`` query parameter and its value, as a logged request line shows it.
_TOKEN_PARAM = re.compile(r"(?<![A-Za-z0-9_])token=[^&\s\"']*")


def new_token() -> str:
    """A fresh random token for one run (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def url_host(host: str) -> str:
    """``host`` as it appears in a URL: IPv6 literals in brackets, names lower-cased."""
    bare = host.strip("[]")
    try:
        if ipaddress.ip_address(bare).version == 6:
            return f"[{bare}]"
    except ValueError:
        pass
    return host.lower()


def check_public_url(url: str) -> str | None:
    """Why ``url`` cannot be a ``--public-url`` (None when it can)."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return f"--public-url {url!r}: expected http://NAME[:PORT] or https://NAME[:PORT]"
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return f"--public-url {url!r}: the port is not a number from 0 to 65535"
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"--public-url {url!r}: give only scheme, host, port and path"
    return None


@dataclass(frozen=True)
class Refusal:
    """A request turned away: the HTTP status and the one line to answer with."""

    status: int
    message: str


@dataclass(frozen=True)
class ServeGuard:
    """The token and the Host and Origin values one ``paitui serve`` accepts."""

    token: str
    #: Host header values accepted (``name:port``, plus bare ``name`` on a default port).
    hosts: frozenset[str]
    #: Origin header values accepted (``scheme://name[:port]``).
    origins: frozenset[str]
    #: The URL to open, without the token.
    base_url: str
    #: Cookie names are not scoped by port: the port keeps two servers' cookies apart.
    cookie_name: str
    #: Whether the browser reaches us over https (the cookie is then Secure).
    secure: bool

    @classmethod
    def for_server(
        cls, token: str, host: str, port: int, public_url: str | None = None
    ) -> ServeGuard:
        """The guard for a server on ``host:port``, reached at ``public_url`` if given."""
        names = list(LOOPBACK_NAMES)
        if host not in WILDCARD_HOSTS:
            names.append(url_host(host))
        hosts: set[str] = set()
        origins: set[str] = set()
        for name in names:
            hosts.add(f"{name}:{port}")
            origins.add(f"http://{name}:{port}")
            if port == 80:
                hosts.add(name)
                origins.add(f"http://{name}")
        secure = False
        if public_url:
            parts = urlsplit(public_url)
            scheme, name = parts.scheme, url_host(parts.hostname or "")
            secure = scheme == "https"
            explicit = parts.port
            default = _DEFAULT_PORTS[scheme]
            if explicit is None or explicit == default:
                hosts |= {name, f"{name}:{default}"}
                origins |= {f"{scheme}://{name}", f"{scheme}://{name}:{default}"}
            else:
                hosts.add(f"{name}:{explicit}")
                origins.add(f"{scheme}://{name}:{explicit}")
            base_url = public_url.rstrip("/")
        else:
            shown = url_host(host) if host not in WILDCARD_HOSTS else "127.0.0.1"
            base_url = f"http://{shown}:{port}"
        return cls(
            token=token,
            hosts=frozenset(hosts),
            origins=frozenset(origins),
            base_url=base_url,
            cookie_name=f"paitui_token_{port}",
            secure=secure,
        )

    @property
    def open_url(self) -> str:
        """The URL to print and open: the page with the token."""
        return f"{self.base_url}/?token={self.token}"

    def token_matches(self, given: str | None) -> bool:
        """Whether ``given`` is the token, compared in constant time."""
        if not given:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode("utf-8"))

    def check(
        self,
        *,
        host: str | None,
        origin: str | None,
        query_token: str | None,
        cookie_token: str | None,
    ) -> Refusal | None:
        """Why this request is refused, or None when it may go on.

        ``origin`` is None when the client sent none (a top-level page load, or a client that is
        not a browser: the token alone decides). A ``?token=`` in the URL wins over the cookie.
        """
        if host is None or host.lower() not in self.hosts:
            return Refusal(
                403,
                f"paitui serve: refused Host {_shown(host)} (a guard against DNS "
                "rebinding): open the URL paitui serve printed, or start it with "
                "--public-url set to the address you use",
            )
        if origin is not None and origin.lower() not in self.origins:
            return Refusal(
                403,
                f"paitui serve: refused a request from the page at "
                f"{_shown(origin)}: only this server's own page may use it",
            )
        given = query_token if query_token is not None else cookie_token
        if given is None:
            return Refusal(
                403,
                "paitui serve: this needs the access token: open the URL "
                "(with ?token=...) that paitui serve printed when it started",
            )
        if not self.token_matches(given):
            return Refusal(
                403,
                "paitui serve: wrong access token: open the URL (with "
                "?token=...) that paitui serve printed when it started",
            )
        return None

    def redact(self, text: str) -> str:
        """``text`` with the token and every ``token=`` value replaced, for the logs.

        Near misses go too: a wrong token one character off tells almost all of the right one.
        """
        return _TOKEN_PARAM.sub(f"token={REDACTED}", text.replace(self.token, REDACTED))


def _shown(value: str | None) -> str:
    """A header value quoted and cut short, for a refusal message."""
    if value is None:
        return "(none)"
    return repr(value[:80] + ("..." if len(value) > 80 else ""))
