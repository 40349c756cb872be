"""Importing the docker SDK without its SSH transport until an ``ssh://`` engine needs it.

``import docker`` imports ``docker.transport.sshconn``, which imports paramiko (and with it
cryptography and invoke) whenever paramiko is installed: ~20 MB of memory and ~130 ms for a
transport that only ``ssh://`` engines use. ``load_docker()`` imports the SDK with paramiko
hidden for that one import (the SDK catches the ImportError and leaves SSH out);
``load_docker(ssh=True)`` brings the transport in, when an ssh:// client is made.

The SDK names this touches: ``docker.transport.sshconn`` and the ``SSHHTTPAdapter`` that
``docker.transport`` and ``docker.api.client`` import from it (checked against docker 7.1/7.2;
``tests/engine/test_sdk_import.py`` checks both orders in fresh interpreters).
"""

from __future__ import annotations

import importlib
import sys
import threading

_lock = threading.Lock()


def load_docker(ssh: bool = False) -> None:
    """Import the docker SDK (then ``import docker`` as usual); with its SSH transport when
    ``ssh``. ImportError when the SDK (or, for ``ssh``, paramiko) is not installed."""
    with _lock:
        if "docker" not in sys.modules and not ssh:
            hide = "paramiko" not in sys.modules
            if hide:
                sys.modules["paramiko"] = None  # type: ignore[assignment]  # "not installed"
            try:
                import docker
            finally:
                if hide and "paramiko" in sys.modules and sys.modules["paramiko"] is None:
                    del sys.modules["paramiko"]  # paitui's own SSH sessions may import it later
        import docker  # noqa: F401

        if ssh:
            _add_ssh_transport()


def _add_ssh_transport() -> None:
    import docker.api.client as api_client
    import docker.transport as transport

    if "SSHHTTPAdapter" in vars(api_client):
        return  # imported with paramiko in reach
    sshconn = importlib.import_module("docker.transport.sshconn")  # ImportError without paramiko
    setattr(transport, "SSHHTTPAdapter", sshconn.SSHHTTPAdapter)  # noqa: B010  (typed as a class)
    setattr(api_client, "SSHHTTPAdapter", sshconn.SSHHTTPAdapter)  # noqa: B010
