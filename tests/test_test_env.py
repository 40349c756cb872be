"""The real test environment works: engine, registry, and a stand-in container answering."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers import wait_until


def test_registry_serves_the_test_image(registry: str, busybox_image: str) -> None:
    tags = httpx.get(f"http://{registry}/v2/paitest/busybox/tags/list", timeout=5).json()
    assert "latest" in tags["tags"]


def test_stand_in_container_answers_on_its_port(
    docker_client: Any, busybox_image: str, test_label: str
) -> None:
    container = docker_client.containers.run(
        busybox_image,
        ["httpd", "-f", "-p", "8080", "-h", "/www"],
        detach=True,
        name=f"paitui-test-{uuid.uuid4().hex[:8]}",
        labels={"paitui.test": test_label},
        ports={"8080/tcp": ("127.0.0.1", None)},
    )
    try:

        def port() -> int | None:
            container.reload()
            bindings = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp")
            return int(bindings[0]["HostPort"]) if bindings else None

        host_port = wait_until(port, what="published port")

        def answer() -> str | None:
            try:
                return httpx.get(f"http://127.0.0.1:{host_port}/", timeout=1).text
            except httpx.HTTPError:
                return None

        assert wait_until(answer, what="httpd answer").strip() == "ok"
    finally:
        container.remove(force=True)
