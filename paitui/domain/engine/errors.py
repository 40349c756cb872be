"""Docker errors turned into one readable message and the fix, never a traceback."""

from __future__ import annotations

import re
from enum import StrEnum


class ErrorKind(StrEnum):
    """What went wrong, for callers that react differently (e.g. retry on UNREACHABLE)."""

    UNREACHABLE = "unreachable"
    PERMISSION = "permission"
    IMAGE_NOT_FOUND = "image-not-found"
    REGISTRY_DOWN = "registry-down"
    PORT_IN_USE = "port-in-use"
    DEVICE_MISSING = "device-missing"
    GPU_RUNTIME = "gpu-runtime"
    NOT_MANAGED = "not-managed"
    NOT_FOUND = "not-found"
    CONFLICT = "conflict"
    DATA_DIR = "data-dir"
    CANCELLED = "cancelled"
    OTHER = "other"


class EngineError(Exception):
    """A failed engine operation: ``message`` says what happened, ``fix`` what to do."""

    def __init__(self, kind: ErrorKind, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} — {self.fix}" if self.fix else self.message


PERMISSION_FIX = (
    "add yourself to the docker group: sudo usermod -aG docker $USER, then log out and in again "
    "(or use rootless Docker and set DOCKER_HOST)"
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _text(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation) if explanation else str(exc)


_DEVICE = re.compile(
    r'(?:adding custom device|device) "?([^":]+)"?:? no such file or directory', re.I
)
_PORT = re.compile(
    r"(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\])?:?(\d+)\D*"
    r"(?:failed: port is already allocated|bind: address already in use)",
    re.I,
)

_DEVICE_FIX = {
    "/dev/kfd": "ROCm needs /dev/kfd: load amdgpu (sudo modprobe amdgpu), check ls -l /dev/kfd",
    "/dev/dri": "no /dev/dri on this host: install the GPU's kernel driver (amdgpu, i915/xe)",
}


def unreachable(host: str | None, detail: str = "") -> EngineError:
    """The error for an engine that does not answer."""
    where = host or "the default socket"
    tail = f" ({detail})" if detail else ""
    return EngineError(
        ErrorKind.UNREACHABLE,
        f"Docker engine not reachable at {where}{tail}",
        "start it (sudo systemctl start docker), or point paitui at it with DOCKER_HOST, "
        "a docker context or docker_host in config.toml",
    )


def not_answering(host: str | None, waited: float | None = None) -> EngineError:
    """The error for an engine that accepts the connection but never replies (hung, frozen)."""
    where = host or "the default socket"
    tail = f" (no reply in {waited:g} s)" if waited else ""
    return EngineError(
        ErrorKind.UNREACHABLE,
        f"Docker engine at {where} does not answer{tail}",
        "it is hung or overloaded: check it with docker info or systemctl status docker, "
        "restart it if it stays stuck (sudo systemctl restart docker)",
    )


def is_timeout(exc: BaseException) -> bool:
    """Whether the SDK gave up waiting for a reply (the engine took the connection, then hung)."""
    names = {"ReadTimeout", "ReadTimeoutError"}
    chain = _chain(exc)
    if any(type(e).__name__ in names or isinstance(e, TimeoutError) for e in chain):
        return True
    return "read timed out" in _text(exc).lower()


def translate(
    exc: BaseException, *, host: str | None = None, image: str | None = None
) -> EngineError:
    """The readable EngineError for any exception the docker SDK raised."""
    if isinstance(exc, EngineError):
        return exc
    chain = _chain(exc)
    if any(isinstance(e, PermissionError) for e in chain) or (
        "permission denied" in _text(exc).lower()
        and ("docker.sock" in _text(exc) or "connect" in _text(exc).lower())
    ):
        return EngineError(
            ErrorKind.PERMISSION,
            f"permission denied on the Docker socket {host or '/var/run/docker.sock'}",
            PERMISSION_FIX,
        )
    if is_timeout(exc):
        return not_answering(host)
    text = _text(exc)
    low = text.lower()
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if any(
        type(e).__name__
        in {
            "ConnectionError",
            "FileNotFoundError",
            "ConnectionRefusedError",
            "ProtocolError",
            "ReadTimeout",
            "ConnectTimeout",
        }
        for e in chain
    ) or ("error while fetching server api version" in low):
        return unreachable(host, _short(text))
    if "port is already allocated" in low or "address already in use" in low:
        m = _PORT.search(text)
        port = m.group(2) if m else "?"
        return EngineError(
            ErrorKind.PORT_IN_USE,
            f"host port {port} is already in use",
            f"choose another host port (--port N, or the Port field of the launch form) "
            f"or free it: ss -ltnp 'sport = :{port}'",
        )
    m = _DEVICE.search(text)
    if m or ("no such file or directory" in low and "/dev/" in low):
        device = (
            m.group(1)
            if m
            else next((w for w in text.split() if w.strip('"').startswith("/dev/")), "a device")
        )
        device = device.strip('"')
        return EngineError(
            ErrorKind.DEVICE_MISSING,
            f"device {device} does not exist on the Docker host",
            _DEVICE_FIX.get(
                device, "install the GPU driver that provides it (paitui hw shows what is missing)"
            ),
        )
    if (
        "could not select device driver" in low
        or "unknown or invalid runtime" in low
        or ("cdi" in low and "unresolvable" in low)
    ):
        return EngineError(
            ErrorKind.GPU_RUNTIME,
            "the Docker engine cannot give the container an NVIDIA GPU",
            "install nvidia-container-toolkit, then: "
            "sudo nvidia-ctk runtime configure --runtime=docker "
            "&& sudo systemctl restart docker",
        )
    what = image or "the image"
    if (
        "manifest unknown" in low
        or ("manifest" in low and "not found" in low)
        or "pull access denied" in low
        or ("repository does not exist" in low)
        or ("no such image" in low and image)
    ):
        return EngineError(
            ErrorKind.IMAGE_NOT_FOUND,
            f"image {what} not found in its registry",
            "check the image name and tag in the catalog; for a private registry run docker login",
        )
    if any(
        s in low
        for s in (
            "dial tcp",
            "connection refused",
            "no such host",
            "i/o timeout",
            "tls handshake",
            "request canceled while waiting",
            "server misbehaving",
            "service unavailable",
            "bad gateway",
        )
    ):
        registry = image.split("/")[0] if image and "/" in image else "the registry"
        return EngineError(
            ErrorKind.REGISTRY_DOWN,
            f"registry {registry} is not reachable ({_short(text)})",
            "check the network and that the registry is up, then try again",
        )
    if status == 409 or "conflict" in low:
        return EngineError(
            ErrorKind.CONFLICT, _short(text), "remove or stop the conflicting container first"
        )
    if status == 404 or type(exc).__name__ == "NotFound":
        return EngineError(
            ErrorKind.NOT_FOUND, _short(text), "it may have been removed; refresh the list"
        )
    return EngineError(ErrorKind.OTHER, f"Docker engine error: {_short(text)}")


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
