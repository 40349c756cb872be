"""Docker facts from the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paitui.services.hardware.host import HostEnv, query_docker

pytestmark = pytest.mark.docker


def test_docker_facts_from_the_real_engine(docker_client: Any, tmp_path: Path) -> None:
    info = docker_client.info()
    facts = query_docker(HostEnv(root=tmp_path), None)
    assert facts.reachable and facts.error is None
    assert facts.version == info["ServerVersion"]
    assert facts.api_version == docker_client.version()["ApiVersion"]
    assert facts.rootless == any("rootless" in s for s in info.get("SecurityOptions") or [])
    assert facts.nvidia_runtime == ("nvidia" in (info.get("Runtimes") or {}))
    assert facts.cdi_specs == ()  # nothing under the empty root's etc/cdi and var/run/cdi
    assert facts.host is not None and facts.host.startswith(("http+docker://", "unix://", "tcp://"))
