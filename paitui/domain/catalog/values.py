"""Checks of single catalog values that the Docker engine would otherwise reject at launch time.

Each ``check_*`` returns the value unchanged or raises ``ValueError`` with a message that says
what is expected, so ``paitui catalog check`` refuses what cannot work instead of saying OK.
``host_access`` names the settings that hand the container the host; those are allowed (some
images need them) but warned about.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

#: uid_t is 32 bits and (uid_t)-1 means "unchanged" to chown, so 2**32 - 2 is the largest id.
MAX_ID = 2**32 - 2
#: The engine keeps sizes in an int64.
MAX_BYTES = 2**63 - 1

# The image reference grammar of distribution/reference, written so that no part can match
# the same text two ways (its ``[-]*`` separator, taken literally, backtracks exponentially).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::{_TAG})?(?:@{_DIGEST})?",
    re.ASCII,
)
_NAME_MAX = 255

_SIZE = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<unit>[bkmg]?)b?", re.IGNORECASE)
_UNIT = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

_USER_NAME = r"[A-Za-z_][A-Za-z0-9_.-]{0,31}"
_USER = re.compile(rf"(?P<user>{_USER_NAME}|[0-9]+)(?::(?P<group>{_USER_NAME}|[0-9]+))?")

#: Linux capabilities the engine knows (capabilities(7)), without the CAP_ prefix.
CAPABILITIES = frozenset(
    {
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    }
)
#: Capabilities that amount to root on the host (load modules, mount, everything).
HOST_CAPABILITIES = frozenset({"ALL", "SYS_ADMIN", "SYS_MODULE"})
#: What the engine daemon itself accepts in ``security_opt`` (``systempaths`` is a CLI-only one).
_SECURITY_KEYS = ("label", "apparmor", "seccomp", "no-new-privileges")

#: Host paths whose bind mount gives the container the host: its root, its configuration and
#: kernel interfaces, and the container engines' sockets (and the folders that hold them).
_HOST_PATHS = frozenset({"/", "/etc", "/root", "/boot", "/proc", "/sys", "/dev"})
_ENGINE_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
)


def _no_nul(text: str, what: str) -> None:
    if "\x00" in text:
        raise ValueError(f"{what} contains a NUL character, which the engine cannot pass on")


def check_image(ref: str) -> str:
    """An image reference ``[registry/]name[:tag][@digest]``, as the engine parses it."""
    if not ref.strip():
        raise ValueError("the image is empty: give a reference such as ghcr.io/org/app:tag")
    m = _IMAGE.fullmatch(ref) if len(ref) <= _NAME_MAX + 200 else None
    if m is None:
        raise ValueError(
            f"{_clip(ref)!r} is not an image reference: expected [registry/]name[:tag][@digest], "
            "the name in lower case (e.g. ghcr.io/org/app:1.0)"
        )
    if len(m.group("name")) > _NAME_MAX:
        raise ValueError(f"the image name is longer than {_NAME_MAX} characters")
    return ref


def shm_bytes(size: str) -> int:
    """``16G``, ``512m``, ``1gb`` or a byte count, in bytes (ValueError otherwise)."""
    m = _SIZE.fullmatch(size.strip()) if len(size) <= 40 else None
    if m is None:
        raise ValueError(
            f"{_clip(size)!r} is not a size: write a number with an optional unit b, k, m or g "
            "(e.g. 16G or 512m)"
        )
    value = int(float(m.group("n")) * _UNIT[m.group("unit").lower()])
    if value <= 0:
        raise ValueError("shm_size must be larger than 0 (leave it out for the engine's default)")
    if value > MAX_BYTES:
        raise ValueError(f"{size!r} is larger than the engine can hold")
    return value


def check_shm_size(size: str | None) -> str | None:
    """``shm_size`` as the docker SDK and the engine accept it."""
    if size is not None:
        shm_bytes(size)
    return size


def check_id(value: int | None) -> int | None:
    """A numeric uid or gid."""
    if value is not None and not 0 <= value <= MAX_ID:
        raise ValueError(f"a uid/gid is between 0 and {MAX_ID}, not {value}")
    return value


def check_user(user: str | None) -> str | None:
    """``user``: ``name``, ``uid``, ``name:group`` or ``uid:gid``."""
    if user is None:
        return None
    m = _USER.fullmatch(user)
    if m is None:
        raise ValueError(
            f"{_clip(user)!r} is not a user: write uid[:gid] (e.g. 1000:1000) or a user name"
        )
    for part in (m.group("user"), m.group("group")):
        if part is not None and part.isdigit():
            check_id(int(part))
    return user


def check_container_path(path: str) -> str:
    """An absolute path inside the container, without ``..``, not the container's root."""
    _no_nul(path, "the path")
    pure = PurePosixPath(path)
    if not pure.is_absolute():
        raise ValueError(f"{_clip(path)!r} is not an absolute path: start it with '/'")
    if ".." in pure.parts:
        raise ValueError(f"{_clip(path)!r} contains '..': write the path it means")
    if str(pure) == "/":
        raise ValueError("a mount cannot cover the container's root '/'")
    return path


def split_mount(text: str) -> tuple[str, str, tuple[str, ...]]:
    """``host:container[:ro|rw]`` as (host, container, options); ValueError when malformed."""
    _no_nul(text, "the mount")
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f"{_clip(text)!r} is not host:container[:ro]")
    options = tuple(parts[2].split(",")) if len(parts) == 3 else ()
    return parts[0], parts[1], options


def check_mount(text: str) -> str:
    """An extra bind mount: absolute host and container paths, options ``ro`` or ``rw``."""
    host, container, options = split_mount(text)
    if not host.startswith("/"):
        raise ValueError(
            f"the host side {_clip(host)!r} is not an absolute path: the engine only binds "
            "absolute host paths (start it with '/')"
        )
    if ".." in PurePosixPath(host).parts:
        raise ValueError(f"the host side {_clip(host)!r} contains '..': write the path it means")
    check_container_path(container)
    unknown = [o for o in options if o not in {"ro", "rw"}]
    if unknown or len(set(options)) > 1:
        raise ValueError(f"mount options are 'ro' or 'rw', not {':'.join(options)!r}")
    return text


def check_capability(name: str) -> str:
    """A Linux capability (``SYS_PTRACE``, ``CAP_SYS_PTRACE``) or ``ALL``."""
    bare = name.upper().removeprefix("CAP_")
    if bare != "ALL" and bare not in CAPABILITIES:
        raise ValueError(f"{_clip(name)!r} is not a Linux capability (e.g. SYS_PTRACE)")
    return name


def check_security_opt(opt: str) -> str:
    """One ``security_opt`` the engine accepts: ``seccomp=unconfined``, ``label=disable``..."""
    _no_nul(opt, "the option")
    key, sep, value = opt.partition("=")
    if not sep and ":" in opt:
        key, sep, value = opt.partition(":")
    if key not in _SECURITY_KEYS or (sep and not value) or (not sep and key != "no-new-privileges"):
        raise ValueError(
            f"{_clip(opt)!r} is not a security option the engine accepts: write key=value with "
            f"key one of {', '.join(_SECURITY_KEYS)} (e.g. seccomp=unconfined)"
        )
    if key == "no-new-privileges" and sep and value not in {"true", "false"}:
        raise ValueError("no-new-privileges is true or false")
    if key == "seccomp" and value != "unconfined" and not value.lstrip().startswith("{"):
        raise ValueError(
            "seccomp is 'unconfined' or a JSON profile: the engine does not read a profile file"
        )
    return opt


def check_env_name(name: str) -> str:
    """An environment variable name: not empty, no '=' and no NUL."""
    if not name or "=" in name or "\x00" in name:
        raise ValueError(f"{name!r} is not an environment variable name")
    return name


def check_text(text: str) -> str:
    """A value passed to the container as is (argv, env value): no NUL character."""
    _no_nul(text, "the value")
    return text


def host_access(host_path: str) -> str | None:
    """Why binding ``host_path`` hands the container the host, or None."""
    norm = "/" + "/".join(p for p in host_path.split("/") if p and p != ".")
    if norm in _HOST_PATHS:
        return f"it mounts the host's {norm}"
    for sock in _ENGINE_SOCKETS:
        if sock == norm or sock.startswith(norm + "/"):
            return f"it mounts the container engine's socket ({sock}): full control of the host"
    return None


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
