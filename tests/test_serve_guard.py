"""``ServeGuard``: which Host, Origin and token values ``paitui serve`` lets through.

Pure logic; the real server is attacked in tests/test_serve.py. Also the ``serve_token`` setting.
"""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from paitui.services.serve.guard import (
    REDACTED,
    ServeGuard,
    check_public_url,
    new_token,
)
from paitui.settings import load_settings

TOKEN = "T0k3n-abcdefghijklmnopqrstuvwxyz_0123456789"


def allowed(guard: ServeGuard, host: str, origin: str | None = None) -> bool:
    return guard.check(host=host, origin=origin, query_token=TOKEN, cookie_token=None) is None


def test_loopback_server_accepts_its_own_names_only() -> None:
    g = ServeGuard.for_server(TOKEN, "127.0.0.1", 8088)
    assert g.open_url == f"http://127.0.0.1:8088/?token={TOKEN}"
    for name in ("127.0.0.1", "localhost", "LOCALHOST", "[::1]"):
        assert allowed(g, f"{name}:8088", f"http://{name}:8088"), name
    for host in ("127.0.0.1", "127.0.0.1:8089", "evil.example:8088", "[::1]", ""):
        assert not allowed(g, host), host
    for origin in ("http://127.0.0.1", "https://127.0.0.1:8088", "http://localhost:80", "null"):
        assert not allowed(g, "127.0.0.1:8088", origin), origin


def test_port_80_also_accepts_names_without_a_port() -> None:
    g = ServeGuard.for_server(TOKEN, "127.0.0.1", 80)
    assert allowed(g, "localhost", "http://localhost")
    assert allowed(g, "localhost:80", "http://localhost:80")


@pytest.mark.parametrize(
    ("host", "base", "extra"),
    [
        ("::1", "http://[::1]:9000", None),
        ("0.0.0.0", "http://127.0.0.1:9000", None),
        ("::", "http://127.0.0.1:9000", None),
        ("192.168.1.5", "http://192.168.1.5:9000", "192.168.1.5:9000"),
        ("box.lan", "http://box.lan:9000", "box.lan:9000"),
        ("fe80::1", "http://[fe80::1]:9000", "[fe80::1]:9000"),
    ],
)
def test_listen_address_sets_the_printed_url_and_the_names(
    host: str, base: str, extra: str | None
) -> None:
    g = ServeGuard.for_server(TOKEN, host, 9000)
    assert g.base_url == base
    assert not allowed(g, "0.0.0.0:9000") and not allowed(g, "[::]:9000")
    if extra:
        assert allowed(g, extra, f"http://{extra}")


def test_public_url_behind_a_tls_proxy() -> None:
    g = ServeGuard.for_server(TOKEN, "127.0.0.1", 8088, "https://paitui.example.com/")
    assert g.open_url == f"https://paitui.example.com/?token={TOKEN}"
    assert g.secure
    assert allowed(g, "paitui.example.com", "https://paitui.example.com")
    assert allowed(g, "paitui.example.com:443", "https://paitui.example.com:443")
    # The proxy may pass its own Host on or put the upstream one.
    assert allowed(g, "127.0.0.1:8088", "https://paitui.example.com")
    assert not allowed(g, "paitui.example.com", "http://paitui.example.com")
    assert not allowed(g, "paitui.example.com:8088")


def test_public_url_with_a_port_and_a_path() -> None:
    g = ServeGuard.for_server(TOKEN, "0.0.0.0", 8088, "http://box.lan:8088/paitui")
    assert g.open_url == f"http://box.lan:8088/paitui/?token={TOKEN}"
    assert not g.secure
    assert allowed(g, "box.lan:8088", "http://box.lan:8088")
    assert not allowed(g, "box.lan", "http://box.lan")


def test_checks_come_in_order_and_say_what_to_do() -> None:
    g = ServeGuard.for_server(TOKEN, "127.0.0.1", 8088)

    def why(**kw: str | None) -> str:
        args: dict[str, str | None] = {
            "host": "127.0.0.1:8088",
            "origin": None,
            "query_token": None,
            "cookie_token": None,
            **kw,
        }
        refusal = g.check(**args)
        assert refusal is not None and refusal.status == 403
        return refusal.message

    assert "DNS rebinding" in why(host=None, query_token=TOKEN)
    assert "DNS rebinding" in why(host="evil.example:8088", origin="http://evil.example:8088")
    assert "'http://evil.example'" in why(origin="http://evil.example", query_token=TOKEN)
    assert "needs the access token" in why()
    assert "wrong access token" in why(query_token="")
    assert "wrong access token" in why(cookie_token=TOKEN[:-1])
    # ?token= wins over the cookie, so a wrong one is not rescued by a right cookie.
    assert "wrong access token" in why(query_token="nope", cookie_token=TOKEN)
    assert g.check(host="127.0.0.1:8088", origin=None, query_token=None, cookie_token=TOKEN) is None
    long_origin = "http://" + "a" * 500
    assert len(why(origin=long_origin)) < 200


def test_token_compare_takes_any_text() -> None:
    g = ServeGuard.for_server(TOKEN, "127.0.0.1", 8088)
    assert g.token_matches(TOKEN)
    for given in (None, "", TOKEN[:-1], TOKEN + "x", "é" * 43, "\udcff" * 10, TOKEN.upper()):
        assert not g.token_matches(given), given


def test_redact_hides_the_token_and_near_misses() -> None:
    g = ServeGuard.for_server(TOKEN, "127.0.0.1", 8088)
    line = f'"GET /?a=1&token={TOKEN[:-2]}&b=2 HTTP/1.1" "Referer: x/?token={TOKEN}" {TOKEN}'
    out = g.redact(line)
    assert TOKEN[:10] not in out
    assert out.count(REDACTED) == 3 and "&b=2" in out
    assert g.redact("mytoken=keep ?token=") == f"mytoken=keep ?token={REDACTED}"


def test_new_tokens_are_long_url_safe_and_distinct() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    allowed_chars = set(string.ascii_letters + string.digits + "-_")
    assert all(len(t) >= 43 and set(t) <= allowed_chars for t in tokens)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://paitui.example.com", None),
        ("http://[::1]:8088/x", None),
        ("ftp://box", "expected http://NAME[:PORT]"),
        ("box:8088", "expected http://NAME[:PORT]"),
        ("http://", "expected http://NAME[:PORT]"),
        ("http://box:port", "not a number"),
        ("http://box/?token=x", "only scheme, host, port and path"),
        ("http://user:pw@box", "only scheme, host, port and path"),
    ],
)
def test_public_url_is_checked(url: str, problem: str | None) -> None:
    said = check_public_url(url)
    assert (said is None) if problem is None else (said is not None and problem in said)


def test_random_headers_never_get_through() -> None:
    """Seeded fuzz: only the exact Host, Origin and token pass, and nothing raises."""
    rng = random.Random(11)
    g = ServeGuard.for_server(TOKEN, "127.0.0.1", 8088)
    alphabet = string.printable + "é\u0000\udcff[]:"
    good_host, good_origin = "127.0.0.1:8088", "http://127.0.0.1:8088"
    passed = 0
    for i in range(3000):
        host = good_host if i % 3 else "".join(rng.choices(alphabet, k=rng.randint(0, 30)))
        origin = (
            good_origin
            if i % 5
            else rng.choice([None, "".join(rng.choices(alphabet, k=rng.randint(0, 30)))])
        )
        token = (
            TOKEN
            if i % 7 == 0
            else rng.choice(
                [
                    None,
                    "".join(rng.choices(alphabet, k=rng.randint(0, 50))),
                    TOKEN[: rng.randint(0, len(TOKEN) - 1)],
                ]
            )
        )
        ok = g.check(host=host, origin=origin, query_token=token, cookie_token=None) is None
        expected = host == good_host and origin in (None, good_origin) and token == TOKEN
        assert ok == expected, (host, origin, token)
        passed += ok
    assert passed > 100  # the right values were tried too


def test_serve_token_setting_from_file_and_env(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('serve_token = "from-the-file-0123456789"\n')
    s = load_settings(cfg, env={})
    assert s.serve_token == "from-the-file-0123456789" and s.problems == ()
    assert "from-the-file" not in repr(s)
    s = load_settings(cfg, env={"PAITUI_SERVE_TOKEN": "from-the-env-0123456789"})
    assert s.serve_token == "from-the-env-0123456789"
    assert load_settings(tmp_path / "missing.toml", env={}).serve_token is None


@pytest.mark.parametrize("bad", ["short", "has space 0123456789", "x" * 15, "é" * 20, "a&b=c" * 5])
def test_a_bad_serve_token_is_a_problem_that_hides_the_value(tmp_path: Path, bad: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'serve_token = "{bad}"\n')
    for s in (
        load_settings(cfg, env={}),
        load_settings(
            None, env={"PAITUI_SERVE_TOKEN": bad, "PAITUI_CONFIG_DIR": str(tmp_path / "none")}
        ),
    ):
        assert s.serve_token is None
        assert len(s.problems) == 1 and "(hidden): expected at least 16" in s.problems[0]
        assert bad not in s.problems[0]
