"""A seeded mutator of catalog files, and a per-case deadline, for the catalog fuzz tests.

A case starts from one to three real app entries (the bundled catalog's, plus one that uses
every field), applies structural mutations to the data (wrong types, huge numbers, unicode,
unknown placeholders, traversal in paths, dangerous settings), dumps it as YAML, then applies
text and byte mutations (truncation, junk characters, alias bombs, recursive aliases, deep
nesting, tags, undecodable bytes). The same seed gives the same cases.
"""

from __future__ import annotations

import contextlib
import copy
import random
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import yaml

from paitui.services.catalog.files import bundled_catalog_path

#: One app that uses every part of the schema, so mutations reach every validator.
RICH_APP: dict[str, Any] = {
    "id": "rich",
    "name": "Rich",
    "description": "uses every field",
    "kind": "llm",
    "homepage": "https://example.org",
    "variants": {
        "rocm": {
            "image": "ghcr.io/example/rich:rocm",
            "aliases": ["ghcr.io/example/rich:hip"],
            "pinned": "ghcr.io/example/rich:v1.0-rocm-v6.1-20240101",
            "env": {"HSA_OVERRIDE_GFX_VERSION": "11.0.0", "RENDER": "{render_gid}"},
            "entrypoint": ["/app/server"],
            "command": ["--model", "{model}", "--port", "{port}"],
            "user": "1000:1000",
            "shm_size": "16G",
            "ipc": "host",
            "security_opt": ["seccomp=unconfined"],
            "cap_add": ["SYS_PTRACE"],
            "all_gpus": False,
            "extra_mounts": ["/dev/dri/by-path:/dev/dri/by-path:ro"],
            "min_vram_gb": 8,
            "notes": "n",
        },
        "cpu": {"image": "example/rich:cpu"},
    },
    "ports": [
        {
            "container": 8080,
            "purpose": "API",
            "links": [{"label": "UI", "path": "/", "kind": "ui"}],
        },
        {"container": 9000, "purpose": "raw", "protocol": "tcp"},
    ],
    "health": {
        "type": "http",
        "port": 8080,
        "path": "/health",
        "ready": {"status": [200], "json_fields": {"status": "ok"}},
        "loading": {"status": [503]},
        "start_period_s": 60,
    },
    "mounts": {
        "models": {"path": "/models", "formats": ["gguf"], "read_only": True},
        "data": {"path": "/data", "uid": 1000, "gid": 1000},
    },
    "env": {"A": "b"},
    "needs": {"model_file": ["gguf"], "env": ["A"], "choices": {"A": ["b", "c"]}},
}


def base_apps() -> list[dict[str, Any]]:
    """The entries cases start from: every bundled app and ``RICH_APP``."""
    data = yaml.safe_load(bundled_catalog_path().read_text(encoding="utf-8"))
    return [*data["apps"], RICH_APP]


class Hang(Exception):
    """A case ran past its deadline."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise ``Hang`` in the code under the block once ``seconds`` have passed (main thread)."""

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- structural mutations

WEIRD_VALUES: list[Any] = [
    # wrong types
    0,
    -1,
    3.5,
    True,
    None,
    [],
    {},
    ["x"],
    {"a": 1},
    [[[]]],
    # huge and edge numbers
    2**64,
    -(2**63),
    10**400,
    float("inf"),
    float("nan"),
    65536,
    4294967295,
    4294967294,
    1e-300,
    # unicode
    "",
    " ",
    "\u202e\u2066rtl",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🚀",
    "é" * 300,
    "\x00nul",
    "a\nb",
    "\ud800lone",
    "\ufeff",
    "x" * 50_000,
    # placeholders
    "{nope}",
    "{model",
    "{{model}}",
    "{port}{render_gid}",
    "${HOME}",
    "{MODEL}",
    "{model_id}",
    # paths and mounts
    "../../../etc/passwd",
    "/:/host",
    "/var/run/docker.sock:/var/run/docker.sock",
    "relative:/x",
    "/a:/b:rw,ro",
    ":",
    "/a/../b:/c",
    "C:\\x:/y",
    "/run:/run",
    "/a:relative",
    "/x:/",
    "/x:/y:z",
    # images, sizes, users, options
    "UPPER/Case:1",
    "a" * 300,
    "x@sha256:zz",
    "lots",
    "0",
    "-1g",
    "1e3",
    "99999999999999g",
    "root:",
    "99999999999",
    "a b",
    "ALL",
    "CAP_SYS_ADMIN",
    "seccomp=/etc/profile.json",
    "=x",
]
WEIRD_KEYS: list[Any] = [1, None, True, 1.5, float("nan"), "", "a" * 300, "é", -(2**70), "{model}"]
UNKNOWN_KEYS = ["privilegd", "imagee", "<<", "1", "true", "", "ünïcode", "id "]


def _slots(node: Any, depth: int = 0) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) of ``node``, depth first."""
    if depth > 12:
        return
    if isinstance(node, dict):
        for key in list(node):
            yield node, key
            yield from _slots(node[key], depth + 1)
    elif isinstance(node, list):
        for i in range(len(node)):
            yield node, i
            yield from _slots(node[i], depth + 1)


def _pick(rng: random.Random, data: Any) -> tuple[Any, Any] | None:
    slots = list(_slots(data))
    return rng.choice(slots) if slots else None


def _replace(rng: random.Random, data: Any) -> None:
    slot = _pick(rng, data)
    if slot is not None:
        container, key = slot
        container[key] = copy.deepcopy(rng.choice(WEIRD_VALUES))


def _delete(rng: random.Random, data: Any) -> None:
    slot = _pick(rng, data)
    if slot is not None:
        container, key = slot
        del container[key]


def _add_key(rng: random.Random, data: Any) -> None:
    maps = [c for c, _ in _slots(data) if isinstance(c, dict)]
    if maps:
        rng.choice(maps)[rng.choice(UNKNOWN_KEYS)] = copy.deepcopy(rng.choice(WEIRD_VALUES))


def _rename_key(rng: random.Random, data: Any) -> None:
    """Give a mapping key a type or shape no schema expects (YAML keys can be anything)."""
    maps = [(c, k) for c, k in _slots(data) if isinstance(c, dict)]
    if maps:
        container, key = rng.choice(maps)
        container[rng.choice(WEIRD_KEYS)] = container.pop(key)


def _dangerous(rng: random.Random, data: Any) -> None:
    apps = data.get("apps")
    variants = [
        v
        for app in (apps if isinstance(apps, list) else [])
        if isinstance(app, dict) and isinstance(app.get("variants"), dict)
        for v in app["variants"].values()
        if isinstance(v, dict)
    ]
    if variants:
        variant = rng.choice(variants)
        choice = rng.randrange(3)
        if choice == 0:
            variant["privileged"] = True
        elif choice == 1:
            variant["extra_mounts"] = [
                rng.choice(["/:/host", "/run/docker.sock:/d.sock", "/etc:/e"])
            ]
        else:
            variant["cap_add"] = ["SYS_ADMIN"]


def _duplicate_app(rng: random.Random, data: Any) -> None:
    apps = data.get("apps")
    if isinstance(apps, list) and apps:
        apps.append(copy.deepcopy(rng.choice(apps)))


STRUCT_OPS: list[tuple[str, Callable[[random.Random, Any], None]]] = [
    ("replace", _replace),
    ("replace", _replace),
    ("replace", _replace),
    ("delete", _delete),
    ("add-key", _add_key),
    ("dangerous", _dangerous),
    ("duplicate-app", _duplicate_app),
    ("rename-key", _rename_key),
]

# ---------------------------------------------------------------- text mutations

JUNK = [
    ":",
    "-",
    "[",
    "]",
    "{",
    "}",
    "&a",
    "*a",
    "!",
    "|",
    ">",
    "'",
    '"',
    "#",
    "\t",
    "%",
    "@",
    "`",
    "\x07",
    "\x1b",
    "\u2028",
    "\ufeff",
    "\x85",
    "🚀",
    "? ",
    ",",
    "\\",
    "<<: *a",
    "&a &b",
    "---\n",
]
TAGS = [
    "!!float",
    "!!int",
    "!!binary",
    "!!python/object/apply:os.system",
    "!custom",
    "!!set",
    "!!timestamp",
    "!!str",
    "!!map",
    "!!seq",
    "!",
    "!!omap",
    "!<tag:yaml.org,2002:bool>",
]
NUMBERS = [
    "9" * 20,
    "9" * 400,
    "9" * 5000,
    "1e99999",
    "-1e99999",
    "0x" + "f" * 100,
    "0o777777",
    "2024-02-30",
    "2024-13-01 25:61:61",
    "1:2:3:4:5",
    ".nan",
    "0b102",
    "0x_",
    "+.inf",
]


def _value_positions(text: str) -> list[int]:
    return [i + 2 for i in range(len(text)) if text.startswith(": ", i)] or [len(text)]


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _truncate(rng: random.Random, text: str) -> str:
    return text[: rng.randrange(len(text) + 1)]


def _lines(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    op = rng.randrange(4)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[j])
    elif op == 2:
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = " " * rng.randrange(1, 5) + lines[i] if rng.random() < 0.5 else lines[i].lstrip()
    return "\n".join(lines)


def _junk(rng: random.Random, text: str) -> str:
    pos = rng.randrange(len(text) + 1)
    return text[:pos] + rng.choice(JUNK) + text[pos:]


def _set_value(rng: random.Random, text: str, value: str) -> str:
    pos = rng.choice(_value_positions(text))
    return text[:pos] + value + text[_line_end(text, pos) :]


def _alias_bomb(rng: random.Random, text: str) -> str:
    levels, width = rng.randint(2, 12), rng.randint(2, 12)
    lines = [f"x-b0: &b0 [{', '.join(['lol'] * width)}]"]
    for k in range(1, levels):
        lines.append(f"x-b{k}: &b{k} [{', '.join([f'*b{k - 1}'] * width)}]")
    bomb = "\n".join(lines) + "\n"
    # Reference the top of the bomb from a value inside an app, too.
    return bomb + _set_value(rng, text, f"*b{levels - 1}")


def _recursive_alias(rng: random.Random, text: str) -> str:
    if rng.random() < 0.5:
        return text.replace("apps:\n", "apps: &r\n- *r\n", 1)
    return _set_value(rng, text, "&r [1, *r]")


def _deep(rng: random.Random, text: str) -> str:
    n = rng.choice([10, 49, 51, 120, 600, 3000])
    nested = "[" * n + "]" * n if rng.random() < 0.5 else "{a: " * n + "1" + "}" * n
    return _set_value(rng, text, nested)


def _tag(rng: random.Random, text: str) -> str:
    pos = rng.choice(_value_positions(text))
    return text[:pos] + rng.choice(TAGS) + " " + text[pos:]


def _number(rng: random.Random, text: str) -> str:
    return _set_value(rng, text, rng.choice(NUMBERS))


def _merge(rng: random.Random, text: str) -> str:
    anchors = "x-m: &m {privileged: true, image: 'x/y:1'}\n"
    return anchors + _set_value(rng, text, rng.choice(["{<<: *m}", "{<<: [*m, *m]}", "*m"]))


TEXT_OPS: list[tuple[str, Callable[[random.Random, str], str]]] = [
    ("truncate", _truncate),
    ("lines", _lines),
    ("junk", _junk),
    ("junk", _junk),
    ("alias-bomb", _alias_bomb),
    ("recursive-alias", _recursive_alias),
    ("deep", _deep),
    ("tag", _tag),
    ("number", _number),
    ("merge", _merge),
]

# ---------------------------------------------------------------- byte mutations

BAD_BYTES = [
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\x80",
]


def _bytes(rng: random.Random, data: bytes) -> bytes:
    op = rng.randrange(3)
    if op == 0:
        pos = rng.randrange(len(data) + 1)
        return data[:pos] + rng.choice(BAD_BYTES) + data[pos:]
    if op == 1 and data:
        pos = rng.randrange(len(data))
        return data[:pos] + bytes([data[pos] ^ (1 << rng.randrange(8))]) + data[pos + 1 :]
    return data.decode("utf-8", errors="replace").encode("utf-16")


def make_case(rng: random.Random, bases: list[dict[str, Any]]) -> tuple[bytes, list[str]]:
    """One mutated catalog file and the names of the mutations applied to it."""
    data: Any = {"apps": copy.deepcopy(rng.sample(bases, k=rng.randint(1, 3)))}
    ops: list[str] = []
    for _ in range(rng.randint(0, 3)):
        name, struct_op = rng.choice(STRUCT_OPS)
        struct_op(rng, data)
        ops.append(name)
    text = yaml.safe_dump(
        data, allow_unicode=rng.random() < 0.5, sort_keys=False, width=rng.choice([80, 10**6])
    )
    for _ in range(rng.randint(0 if ops else 1, 2)):
        name, text_op = rng.choice(TEXT_OPS)
        text = text_op(rng, text)
        ops.append(name)
    raw = text.encode("utf-8", errors="surrogatepass")
    if rng.random() < 0.15:
        raw = _bytes(rng, raw)
        ops.append("bytes")
    return raw, ops
