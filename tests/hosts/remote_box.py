"""A "remote" box for the tests: a real sshd whose sessions run THIS checkout's paitui (a
``paitui`` wrapper on the session's PATH) with a config, state and store of their own, fetching
from the suite's Hub server; ~/.ssh/config names it ``gpubox``, so paitui takes it for another
machine. Nothing is installed anywhere."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.hosts.sshd import SshBox
from tests.models.hub_server import HubServer, make_repo

REPO = Path(__file__).resolve().parents[2]
Q4 = os.urandom(1_500_000)
BIG = os.urandom(6_000_000)


@dataclass
class RemoteBox:
    box: SshBox
    hub: HubServer
    store: Path  # the remote's models_dir
    config: Path  # this box's config.toml naming it
    env: dict[str, str]  # this box's environment for the CLI
    endpoint: str  # ssh://root@gpubox:PORT


@contextlib.contextmanager
def remote_box(tmp_path: Path) -> Iterator[RemoteBox]:
    """The box, its Hub, and a config.toml here with ``[hosts.gpubox]`` and ``[hosts.bare]``
    (the same box, its paitui not found)."""
    repos = [
        make_repo("acme/tiny-gguf", {"tiny.Q4_K_M.gguf": Q4, "README.md": b"# t\n"}),
        make_repo("acme/big", {"big.gguf": BIG}),
    ]
    bin_dir = tmp_path / "remote-bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "paitui"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m paitui "$@"\n')
    wrapper.chmod(0o755)
    store = tmp_path / "remote-models"
    with HubServer(repos) as hub:
        box = SshBox(
            user_env={"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"},
            session_env={
                "PYTHONPATH": str(REPO),
                "PAITUI_CONFIG_DIR": str(tmp_path / "remote-config"),
                "PAITUI_STATE_DIR": str(tmp_path / "remote-state"),
                "PAITUI_MODELS_DIR": str(store),
                "HF_ENDPOINT": hub.url,
                "HF_HOME": str(tmp_path / "remote-hf"),
            },
        )
        try:
            endpoint = box.alias("gpubox")
            config = tmp_path / "config.toml"
            config.write_text(
                f'models_dir = "{tmp_path / "local-models"}"\n'
                f'apps_dir = "{tmp_path / "local-apps"}"\n'
                f'[hosts.gpubox]\nendpoint = "{endpoint}"\n'
                f'[hosts.bare]\nendpoint = "{endpoint}"\npaitui = "paitui-not-installed-here"\n'
            )
            # Here the Hub is out of reach: a pull that ran on this box would fail.
            env = {
                **os.environ,
                "PYTHONPATH": str(REPO),
                "HOME": str(box.home),
                "HF_ENDPOINT": "http://127.0.0.1:9",
            }
            yield RemoteBox(box, hub, store, config, env, endpoint)
        finally:
            box.close()
