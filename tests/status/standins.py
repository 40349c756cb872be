"""Stand-in apps on the busybox test image, written as a catalog file, and a fleet recorder.

Each test gets app ids with its own suffix, so container names (``paitui-<app id>``) never clash
with other tests running against the same engine at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paitui.domain.fleet.status import AppState, AppStatus

# The health CGI answers 503 "Loading model" until /tmp/ready exists. Braces are doubled: the
# planner fills {placeholders} in commands.
_CGI = r"""mkdir -p /www/cgi-bin
cat > /www/cgi-bin/health <<'EOF'
#!/bin/sh
if [ -f /tmp/ready ]; then
  printf 'Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{{"status":"ok"}}'
else
  printf 'Status: 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n'
  printf '{{"error":"Loading model"}}'
fi
EOF
chmod +x /www/cgi-bin/health
"""


def _script(body: str) -> str:
    # PID 1 ignores TERM unless it traps it; without the trap every stop waits the full timeout.
    return "trap 'exit 0' TERM\n" + body + "wait\n"


def _indent(text: str, by: int) -> str:
    return "\n".join((" " * by + line) if line else line for line in text.splitlines())


def catalog_text(suffix: str, image: str, ready_after: float = 3.0) -> str:
    """A catalog with the stand-ins: slow (503 then 200), never ready, crash, tcp."""
    slow = _script(
        _CGI + f"(sleep {ready_after:g}; touch /tmp/ready) &\n"
        "httpd -f -p 8080 -h /www &\necho 'stand-in listening on 8080'\n"
    )
    never = _script(_CGI + "httpd -f -p 8080 -h /www &\n")
    crash = (
        "echo starting the server\necho 'loading model /models/missing.gguf'\n"
        "echo 'fatal: model file not found' >&2\nexit 3\n"
    )
    tcp = _script("sleep 1\nnc -ll -p 50006 -e cat &\n")
    health = """    health:
      path: /cgi-bin/health
      ready: {{status: [200], json_fields: {{status: ok}}}}
      loading: {{status: [503], body_contains: Loading model}}
      start_period_s: {period}
"""

    def app(app_id: str, name: str, script: str, ports: str, health_text: str) -> str:
        return f"""  - id: {app_id}-{suffix}
    name: {name}
    description: busybox stand-in for tests
    kind: other
    variants:
      cpu: {{image: "{image}"}}
    ports:
{ports}
{health_text}    command:
      - sh
      - -c
      - |
{_indent(script, 8)}
"""

    http_port = """      - container: 8080
        purpose: Stand-in web UI
        links:
          - {label: Web UI, path: /, kind: ui}
          - {label: OpenAI API, path: /v1, kind: openai}"""
    tcp_port = """      - container: 50006
        purpose: raw TCP socket
        protocol: tcp"""
    return "apps:\n" + "".join(
        [
            app("slow", "Slow stand-in", slow, http_port, health.format(period=60)),
            app("never", "Never-ready stand-in", never, http_port, health.format(period=3)),
            app("crash", "Crashing stand-in", crash, http_port, health.format(period=60)),
            app(
                "tcp",
                "TCP stand-in",
                tcp,
                tcp_port,
                "    health: {type: tcp, start_period_s: 30}\n",
            ),
        ]
    )


def write_catalog(folder: Path, suffix: str, image: str, ready_after: float = 3.0) -> Path:
    """Write the stand-in catalog and return its path."""
    path = folder / f"standins-{suffix}.yml"
    path.write_text(catalog_text(suffix, image, ready_after), encoding="utf-8")
    return path


def remove_containers(docker_client: Any, suffix: str) -> None:
    """Remove this test's containers (``paitui-<app>-<suffix>``), whatever state they are in."""
    import docker.errors

    for container in docker_client.containers.list(all=True, filters={"name": suffix}):
        if container.name.startswith("paitui-") and container.name.endswith(suffix):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)


class Recorder:
    """Collects each app's state sequence from a fleet's change callback; waits on conditions."""

    def __init__(self) -> None:
        self.states: dict[str, list[AppState]] = {}
        self.last: dict[str, AppStatus] = {}
        self.all: list[AppStatus] = []
        self._changed = asyncio.Event()

    def __call__(self, status: AppStatus) -> None:
        self.all.append(status)
        seq = self.states.setdefault(status.app_id, [])
        if not seq or seq[-1] != status.state:
            seq.append(status.state)
        self.last[status.app_id] = status
        self._changed.set()

    async def until(
        self, check: Callable[[], object], timeout: float = 20.0, what: str = "condition"
    ) -> None:
        """Wait until ``check()`` is truthy, failing after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not check():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; states: {self.states}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    async def until_state(self, app_id: str, state: AppState, timeout: float = 20.0) -> AppStatus:
        """Wait until ``app_id`` is in ``state``; returns that status."""
        await self.until(
            lambda: app_id in self.last and self.last[app_id].state == state,
            timeout,
            f"{app_id} to be {state}",
        )
        return self.last[app_id]
