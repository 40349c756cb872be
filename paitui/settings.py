"""User settings: ``config.toml`` in the XDG config dir, overridden by ``PAITUI_*`` variables.

A bad value never stops paitui: it is reported in ``Settings.problems`` and the default is used.
No Textual imports: the CLI, the services and the UI share this.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "paitui"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where config.toml, catalog.d/ and user themes live (``PAITUI_CONFIG_DIR`` overrides)."""
    env = os.environ if env is None else env
    if env.get("PAITUI_CONFIG_DIR"):
        return Path(env["PAITUI_CONFIG_DIR"])
    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where paitui keeps its own state (download metadata, app data dirs)."""
    env = os.environ if env is None else env
    if env.get("PAITUI_STATE_DIR"):
        return Path(env["PAITUI_STATE_DIR"])
    return Path(platformdirs.user_data_dir(APP_NAME))


@dataclass(frozen=True)
class Settings:
    """Every user-tunable setting with its default."""

    #: The one shared store of model files, mounted read-only into apps.
    models_dir: Path = field(default_factory=lambda: data_dir() / "models")
    #: Per-app writable data dirs live under here (``<apps_dir>/<app id>``).
    apps_dir: Path = field(default_factory=lambda: data_dir() / "apps")
    #: Address published ports bind to; 127.0.0.1 keeps apps off the network.
    bind_address: str = "127.0.0.1"
    #: Docker endpoint; None means DOCKER_HOST / the current docker context / the default socket.
    docker_host: str | None = None
    #: Seconds between probes while an app starts (backs off to probe_ready_interval).
    probe_start_interval: float = 1.0
    #: Seconds between probes once an app is ready.
    probe_ready_interval: float = 30.0
    #: Seconds one probe may take.
    probe_timeout: float = 3.0
    #: How many model downloads run at once.
    download_concurrency: int = 2
    theme: str = "paitui-dark"
    #: Fixed access token for ``paitui serve`` (None: a random one each run). Kept out of repr.
    serve_token: str | None = field(default=None, repr=False)
    #: ``[hosts.NAME]`` tables as read (checked by ``paitui.domain.fleet.hosts``).
    hosts: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: Where the settings came from, for display.
    source: str | None = None
    #: Bad values that were replaced by defaults, as readable messages.
    problems: tuple[str, ...] = ()

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)


_FIELDS: dict[str, type] = {
    "models_dir": Path,
    "apps_dir": Path,
    "bind_address": str,
    "docker_host": str,
    "probe_start_interval": float,
    "probe_ready_interval": float,
    "probe_timeout": float,
    "download_concurrency": int,
    "theme": str,
    "serve_token": str,
}
#: Settings whose values never appear in a message (they are secrets).
_SECRET = {"serve_token"}
#: A serve token goes into a URL as it is, and must not be guessable.
_TOKEN = re.compile(r"[A-Za-z0-9_.~-]{16,}")


def _convert(name: str, raw: object) -> object:
    kind = _FIELDS[name]
    if kind is Path:
        if not isinstance(raw, str) or not raw:
            raise ValueError("expected a path")
        return Path(raw).expanduser()
    if kind is float:
        if isinstance(raw, bool):
            raise ValueError("expected a number")
        value = float(raw)  # type: ignore[arg-type]
        if value <= 0:
            raise ValueError("expected a number above 0")
        return value
    if kind is int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError("expected a whole number")
        number = int(raw)  # type: ignore[call-overload]
        if number < 1:
            raise ValueError("expected a whole number of at least 1")
        return number
    if not isinstance(raw, str):
        raise ValueError("expected a string")
    if name == "bind_address":
        ipaddress.ip_address(raw)
    if name == "serve_token" and not _TOKEN.fullmatch(raw):
        raise ValueError("expected at least 16 letters, digits or - _ . ~")
    return raw


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read config.toml (if any) and ``PAITUI_*`` overrides; bad values become problems."""
    env = os.environ if env is None else env
    path = path or config_dir(env) / "config.toml"
    values: dict[str, object] = {}
    problems: list[str] = []
    source = None
    if path.exists():
        source = str(path)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{path}: cannot read it ({exc}); using the defaults")
            doc = {}
        for key, raw in doc.items():
            if key == "hosts":  # other engines; each entry is checked when hosts are loaded
                if isinstance(raw, dict):
                    values["hosts"] = raw
                else:
                    problems.append(f"{path}: hosts must be [hosts.NAME] tables; ignored")
                continue
            if key not in _FIELDS:
                problems.append(f"{path}: unknown setting {key!r} ignored")
                continue
            try:
                values[key] = _convert(key, raw)
            except (TypeError, ValueError) as exc:
                shown = "(hidden)" if key in _SECRET else repr(raw)
                problems.append(f"{path}: {key} = {shown}: {exc}; using the default")
    for key in _FIELDS:
        var = f"PAITUI_{key.upper()}"
        if var in env:
            try:
                values[key] = _convert(key, env[var])
            except (TypeError, ValueError) as exc:
                shown = "(hidden)" if key in _SECRET else repr(env[var])
                problems.append(f"{var}={shown}: {exc}; using the default")
    # Defaults follow PAITUI_STATE_DIR from the given env, not only os.environ.
    defaults: dict[str, object] = {
        "models_dir": data_dir(env) / "models",
        "apps_dir": data_dir(env) / "apps",
    }
    return Settings(**{**defaults, **values}, source=source, problems=tuple(problems))  # type: ignore[arg-type]


def save_setting(key: str, value: str, path: Path | None = None) -> Path:
    """Write one string setting into config.toml, keeping the rest of the file as it is."""
    if key not in _FIELDS:
        raise ValueError(f"unknown setting {key!r}")
    path = path or config_dir() / "config.toml"
    line = f"{key} = {json.dumps(value)}"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i, old in enumerate(lines):
        if pattern.match(old):
            lines[i] = line
            break
    else:
        lines.append(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
