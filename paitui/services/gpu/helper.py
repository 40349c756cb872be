"""Reading other users' fdinfo through the engine: a busybox helper container.

A process's fdinfo needs ptrace read rights; a ``docker`` group member has none over the
containers' processes (often root or another uid), but may start a container with
``--pid=host --cap-add SYS_PTRACE`` that reads them for it. Two ways, both read-only
(``--read-only``, ``--network none``), labelled ``paitui.helper=gpu-reader``:

- ``run``: one short-lived container per sample (``--rm``): nothing stays behind;
- ``exec``: one long-lived container (``sleep`` for ``lifetime`` s, then it exits and is removed)
  and one ``exec`` per sample: cheaper when the screen samples every 2 s.

On AppArmor hosts the docker-default profile lets the helper read processes confined by the same
profile (the app containers), which is what is needed.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Collection
from typing import Any

from paitui.domain.gpu.helper_text import HELPER_SCRIPT, HelperAnswer, parse_helper_output

DEFAULT_IMAGE = "busybox:stable"
HELPER_LABEL = "paitui.helper"
HELPER_NAME = "paitui-gpu-reader"


class HelperUnavailable(Exception):
    """The helper could not run; the message says why and what to do."""


def _client_from_env(docker_host: str | None = None) -> Any:
    from paitui.services.engine.sdk import load_docker

    load_docker(ssh=(docker_host or os.environ.get("DOCKER_HOST", "")).startswith("ssh://"))
    import docker

    if docker_host:
        return docker.DockerClient(base_url=docker_host, timeout=10)
    return docker.from_env(timeout=10)


class FdinfoHelper:
    """Reads fdinfo of given host PIDs through a helper container (blocking; call in a thread)."""

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        mode: str = "exec",
        client_factory: Callable[[], Any] = _client_from_env,
        name: str = HELPER_NAME,
        lifetime: int = 300,
    ) -> None:
        if mode not in ("run", "exec"):
            raise ValueError(f"helper mode must be 'run' or 'exec', not {mode!r}")
        self.image = image
        self.mode = mode
        self.name = name
        self.lifetime = lifetime
        self._factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()

    def _docker(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def _spec(self) -> dict[str, Any]:
        return {
            "pid_mode": "host",
            "cap_add": ["SYS_PTRACE"],
            "network_mode": "none",
            "read_only": True,
            "labels": {HELPER_LABEL: "gpu-reader"},
        }

    def read(
        self, pids: Collection[int], nodes: Collection[str], prefix: str = "/dev/dri/"
    ) -> HelperAnswer:
        """The fdinfo of ``pids``' fds open on ``nodes`` (names under ``prefix``)."""
        if not pids:
            return HelperAnswer(complete=True)
        args = [str(p) for p in sorted(pids)]
        env = {"AWAKE": " ".join(sorted(nodes)), "PREFIX": prefix}
        with self._lock:
            try:
                text = self._run(args, env) if self.mode == "run" else self._exec(args, env)
            except HelperUnavailable:
                raise
            except Exception as exc:  # the SDK raises requests/urllib3/docker errors
                raise HelperUnavailable(_why(exc, self.image)) from exc
        answer = parse_helper_output(text)
        if not answer.complete:
            raise HelperUnavailable("the helper container's answer was cut off")
        return answer

    def _run(self, args: list[str], env: dict[str, str]) -> str:
        out = self._docker().containers.run(
            self.image,
            ["sh", "-c", HELPER_SCRIPT, "sh", *args],
            environment=env,
            remove=True,
            stdout=True,
            stderr=False,
            **self._spec(),
        )
        return bytes(out).decode("utf-8", "replace")

    def _container(self) -> Any:
        import docker.errors

        client = self._docker()
        try:
            c = client.containers.get(self.name)
            if c.status == "running":
                return c
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        except docker.errors.NotFound:
            pass
        return client.containers.run(
            self.image,
            ["sleep", str(self.lifetime)],
            name=self.name,
            detach=True,
            auto_remove=True,
            **self._spec(),
        )

    def _exec(self, args: list[str], env: dict[str, str]) -> str:
        import docker.errors

        for attempt in (1, 2):  # the helper may exit (its lifetime ran out) between calls
            c = self._container()
            try:
                _code, out = c.exec_run(["sh", "-c", HELPER_SCRIPT, "sh", *args], environment=env)
            except docker.errors.APIError:
                if attempt == 2:
                    raise
                continue
            return bytes(out or b"").decode("utf-8", "replace")
        raise HelperUnavailable("the helper container kept exiting")  # pragma: no cover

    def close(self, stop: bool = False) -> None:
        """Drop the engine connection; ``stop``: also remove the long-lived helper."""
        with self._lock:
            if self._client is None:
                return
            if stop:
                with contextlib.suppress(Exception):
                    self._client.containers.get(self.name).remove(force=True)
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None


def _why(exc: BaseException, image: str) -> str:
    text = str(exc)
    if "No such image" in text or ("not found" in text.lower() and "image" in text.lower()):
        return (
            f"the helper image {image} is not here: pull it (docker pull {image}) or set "
            "PAITUI_GPU_HELPER_IMAGE to an image with busybox sh"
        )
    from paitui.services.hardware.host import describe_docker_error

    return f"the fdinfo helper container could not run: {describe_docker_error(exc)}"
