"""Read the software stack out of an image reference's tag.

Follows the conventions collected in oEEP-0014 ("openEuler AI Container Image Stack
Specifications") and the vendor formats it describes:

- NVIDIA ``nvidia/cuda:<cuda-version>-base|runtime|devel-<os><os-version>``
  (``12.2.0-runtime-ubuntu20.04``);
- AMD ``rocm<ver>_<os><ver>_py<ver>_pytorch_<ver>`` and ``rocm<ver>-<os><ver>-tf<ver>-dev``;
- openEuler ``[<llm>-]<framework><ver>-<sdk><ver>-oe<ver>[-dev]``
  (``pytorch2.1.0-cann7.0.RC1.alpha002-oe2203sp2``);
- Pai ``<appver>-<stack>-YYYYMMDD`` (``v1.117.1-rocm-v7.2.4-20260101``) and similar tags such as
  ``sd1.10.1_cn1.1_pt2.2.0_rocm5.4.3_u22.04.4``.

A tag is split on ``-`` and ``_`` into tokens; each token is a version, a build date, a flavour, a
known component (``rocm5.7``, ``pytorch`` followed by ``2.0.1``, ``oe2203sp2``) or, first in the
tag, the app. A leading ``-``-joined run of name words is one app name, numbers included
(``segment-anything-2``, ``qwen1.5-7b-chat``).
Unknown tokens are kept in ``extras``. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

DEFAULT_REGISTRY = "docker.io"

#: Token (lower case) -> display name of a stack component.
COMPONENTS: dict[str, str] = {
    "rocm": "ROCm",
    "cuda": "CUDA",
    "cudnn": "cuDNN",
    "cann": "CANN",
    "xpu": "XPU",
    "ipex": "IPEX",
    "intel": "Intel",
    "sycl": "SYCL",
    "oneapi": "oneAPI",
    "vulkan": "Vulkan",
    "openvino": "OpenVINO",
    "hipblas": "hipBLAS",
    "pytorch": "PyTorch",
    "torch": "PyTorch",
    "pt": "PyTorch",
    "tensorflow": "TensorFlow",
    "tf": "TensorFlow",
    "mindspore": "MindSpore",
    "py": "Python",
    "python": "Python",
    "cn": "ControlNet",
    "ubuntu": "Ubuntu",
    "u": "Ubuntu",
    "debian": "Debian",
    "alpine": "Alpine",
    "centos": "CentOS",
    "ubi": "UBI",
    "oe": "openEuler",
    "openeuler": "openEuler",
}
#: Repositories whose leading version is an SDK's, not an app's (``nvidia/cuda:12.2.0-...``).
_SDK_REPOSITORIES: dict[str, str] = {"cuda": "CUDA", "rocm": "ROCm", "cann": "CANN"}
#: Image flavours: NVIDIA's base/runtime/devel and the ``-dev`` suffix of AMD and oEEP-0014.
FLAVOURS = frozenset({"base", "runtime", "devel", "dev", "complete"})
#: Words between a component and its version (``pytorch_release_2.3.0``).
_FILLER_WORDS = frozenset({"release"})
#: Words that make a tag move with every release.
MOVING_WORDS = frozenset({"latest", "main", "master", "nightly", "edge", "stable"})

_VERSION = re.compile(r"^v?(?P<v>\d+(?:\.[0-9A-Za-z]+)*)$")
_BARE_NUMBER = re.compile(r"^\d+$")
_NAMED = re.compile(r"^(?P<name>[A-Za-z]+?)v?(?P<v>\d[0-9A-Za-z.]*)$")
_CUDA_SHORT = re.compile(r"^cu(?P<major>\d{2})(?P<minor>\d)$")  # cu128 = CUDA 12.8
_OE_VERSION = re.compile(r"^(?P<major>\d{2})(?P<minor>\d{2})(?:sp(?P<sp>\d+))?$", re.IGNORECASE)
_DATE = re.compile(r"^(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})$")
#: A build date written as its pattern: the tag's date is in no upstream file (Pai stamps
#: ``-YYYYMMDD`` when a release build is started by hand), so it is shown as unverified.
UNKNOWN_DATE = "YYYYMMDD"
#: How a summary says so.
UNVERIFIED_DATE = "build date unverified"
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


class Component(NamedTuple):
    """One layer of the stack, e.g. ``("ROCm", "7.2.4")``; version None when the tag has none."""

    name: str
    version: str | None


@dataclass(frozen=True)
class ImageStack:
    """An image reference split into where it lives and what software its tag says it carries."""

    reference: str
    registry: str
    repository: str
    tag: str | None
    digest: str | None = None
    app: str | None = None
    app_version: str | None = None
    components: tuple[Component, ...] = ()
    flavour: str | None = None
    build_date: date | None = None
    extras: tuple[str, ...] = ()
    is_moving: bool = False
    #: The tag has a build date but not its value (``...-YYYYMMDD``).
    build_date_unverified: bool = False

    def component(self, name: str) -> str | None:
        """The version of one component by display name (case-insensitive), or None."""
        for comp in self.components:
            if comp.name.lower() == name.lower():
                return comp.version
        return None

    def stack_summary(self) -> str:
        """A short line for lists: ``1.117.1 · ROCm 7.2.4 · 2026-01-01``; moving tags say so."""
        if self.is_moving:
            return f"{self.tag or 'latest'} (moving)"
        parts: list[str] = []
        if self.app_version:
            parts.append(f"{self.app} {self.app_version}" if self.app else self.app_version)
        elif self.app:
            parts.append(self.app)
        parts.extend(f"{c.name} {c.version}" if c.version else c.name for c in self.components)
        if self.flavour:
            parts.append(self.flavour)
        if self.build_date:
            parts.append(self.build_date.isoformat())
        elif self.build_date_unverified:
            parts.append(UNVERIFIED_DATE)
        if not parts:
            return self.tag or (self.digest or "")[:19]
        return " · ".join(parts)


def split_reference(reference: str) -> tuple[str, str, str | None, str | None]:
    """``(registry, repository, tag, digest)`` of a reference like ``host:5000/a/b:tag@sha256:...``.

    The first path part is a registry when it has a ``.`` or ``:`` or is ``localhost``
    (the docker rule); otherwise the registry is Docker Hub.
    """
    ref = reference.strip()
    if not ref:
        raise ValueError("empty image reference")
    digest: str | None = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not _DIGEST.match(digest):
            raise ValueError(f"malformed digest {digest!r} in {reference!r}")
    registry = DEFAULT_REGISTRY
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, ref = first, rest
    tag: str | None = None
    last_slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > last_slash:
        ref, tag = ref[:colon], ref[colon + 1 :]
        if not tag:
            raise ValueError(f"empty tag in {reference!r}")
    if not ref:
        raise ValueError(f"no repository in {reference!r}")
    return registry, ref, tag, digest


def parse_image(reference: str) -> ImageStack:
    """Parse a full image reference (``ghcr.io/x/koboldcpp:v1.117.1-rocm-v7.2.4-20260101``).

    ValueError for a reference that is empty or has an empty tag, repository or bad digest.
    """
    registry, repository, tag, digest = split_reference(reference)
    stack = parse_tag(tag, repository=repository, digest=digest)
    return ImageStack(
        reference=reference,
        registry=registry,
        repository=repository,
        tag=tag,
        digest=digest,
        app=stack.app,
        app_version=stack.app_version,
        components=stack.components,
        flavour=stack.flavour,
        build_date=stack.build_date,
        extras=stack.extras,
        is_moving=stack.is_moving,
        build_date_unverified=stack.build_date_unverified,
    )


def stack_summary(reference: str) -> str:
    """The stack summary of a reference; the reference itself when it cannot be parsed."""
    try:
        return parse_image(reference).stack_summary()
    except ValueError:
        return reference


def _as_date(token: str) -> date | None:
    m = _DATE.match(token)
    if not m:
        return None
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None


def _version_of(token: str) -> str | None:
    m = _VERSION.match(token)
    return m["v"] if m else None


def _component_version(name: str, version: str) -> str:
    """Spell a version the way its project does (openEuler ``2203sp2`` is ``22.03 SP2``)."""
    if name == "openEuler":
        m = _OE_VERSION.match(version)
        if m:
            text = f"{m['major']}.{m['minor']}"
            return f"{text} SP{m['sp']}" if m["sp"] else text
    return version


def _sdk_of_repository(repository: str) -> tuple[str | None, list[Component]]:
    """The SDK a repository's leading tag version belongs to, and the OS its name gives.

    ``nvidia/cuda:12.2.0-...`` is CUDA 12.2.0; ROCm's base images
    ``rocm/dev-ubuntu-24.04:7.2.4-complete`` are ROCm 7.2.4 on Ubuntu 24.04.
    """
    parts = repository.lower().split("/")
    name = parts[-1]
    if name in _SDK_REPOSITORIES:
        return _SDK_REPOSITORIES[name], []
    namespace = parts[-2] if len(parts) > 1 else ""
    if namespace in _SDK_REPOSITORIES and name.startswith("dev-"):
        words = name.split("-")[1:]
        os_parts: list[Component] = []
        if len(words) == 2 and words[0] in COMPONENTS and _version_of(words[1]):
            os_parts.append(Component(COMPONENTS[words[0]], words[1]))
        return _SDK_REPOSITORIES[namespace], os_parts
    return None, []


def _is_name_word(token: str) -> bool:
    """A token that can only be part of an app's name (``segment``, ``7b``, ``chat``)."""
    lower = token.lower()
    if lower in COMPONENTS or lower in FLAVOURS or lower in MOVING_WORDS:
        return False
    if token == UNKNOWN_DATE or _as_date(token) or _version_of(token) is not None:
        return False
    if _CUDA_SHORT.match(lower):
        return False
    named = _NAMED.match(token)
    return not (named and named["name"].lower() in COMPONENTS)


def _app_name_end(tag: str, spans: list[tuple[int, int]]) -> int:
    """How many leading tokens make up the app's name, when it is more than one word.

    A ``-``-joined run of name words is one name (``audio-to-text``, ``qwen1.5-7b-chat``), and a
    bare number right after a word belongs to it (``segment-anything-2``), as in oEEP-0014's
    ``<llm>-<framework>...`` where the LLM's name carries its own numbers.
    """
    end = 1
    while end < len(spans):
        start = spans[end][0]
        if tag[start - 1] != "-":
            break
        token = tag[start : spans[end][1]]
        if not (_is_name_word(token) or _BARE_NUMBER.match(token)):
            break
        end += 1
    return end


def parse_tag(tag: str | None, *, repository: str = "", digest: str | None = None) -> ImageStack:
    """Parse a bare tag; ``repository`` helps read a leading version (``nvidia/cuda``'s is CUDA)."""
    spans = [m.span() for m in re.finditer(r"[^-_]+", tag)] if tag else []
    tokens = [tag[a:b] for a, b in spans] if tag else []
    sdk, repo_components = _sdk_of_repository(repository)
    app: str | None = None
    app_version: str | None = None
    components: list[Component] = []
    flavour: str | None = None
    build_date: date | None = None
    date_unverified = False
    extras: list[str] = []
    moving_word = tag is None
    i = 0
    if tag and tokens and _is_name_word(tokens[0]) and "-" in tag[spans[0][1] : spans[0][1] + 1]:
        # "qwen1.5-7b-chat-pytorch2.1.0-..." or "segment-anything-2": the whole run is the name
        # (oEEP-0014's "<llm>-"); only "_"-joined "sd1.10.1_cn1.1_..." leads with app + version.
        i = _app_name_end(tag, spans)
        app = tag[: spans[i - 1][1]]
    while i < len(tokens):
        token = tokens[i]
        lower = token.lower()
        first = i == 0
        i += 1
        when = _as_date(token)
        if when is not None:
            build_date = when
            continue
        if token == UNKNOWN_DATE and not first:
            date_unverified = True
            continue
        if lower in FLAVOURS and not first:
            flavour = lower
            continue
        if lower in MOVING_WORDS:
            moving_word = True
            continue
        version = _version_of(token)
        if version is not None:
            if first and sdk is not None:
                components.append(Component(sdk, version))
            elif app_version is None and not components:
                app_version = version
            else:
                extras.append(token)
            continue
        if lower in COMPONENTS:
            name = COMPONENTS[lower]
            # "pytorch_2.0.1", "rocm-v7.2.4" and "pytorch_release_2.3.0": the version follows.
            j = i + 1 if i < len(tokens) and tokens[i].lower() in _FILLER_WORDS else i
            nxt = _version_of(tokens[j]) if j < len(tokens) and not _as_date(tokens[j]) else None
            if nxt is not None:
                i = j + 1
            components.append(Component(name, _component_version(name, nxt) if nxt else None))
            continue
        cu = _CUDA_SHORT.match(lower)
        if cu:
            components.append(Component("CUDA", f"{int(cu['major'])}.{cu['minor']}"))
            continue
        named = _NAMED.match(token)
        if named and named["name"].lower() in COMPONENTS:
            name = COMPONENTS[named["name"].lower()]
            components.append(Component(name, _component_version(name, named["v"])))
            continue
        if first:
            # The app: "sd1.10.1" is app sd at 1.10.1; "chatglm6b" is a model name, not a version.
            if named and "." in named["v"]:
                app, app_version = named["name"], named["v"]
            else:
                app = token
            continue
        extras.append(token)
    components.extend(repo_components)
    has_version = (
        app_version is not None or build_date is not None or any(c.version for c in components)
    )
    is_moving = digest is None and (moving_word or not has_version)
    return ImageStack(
        reference=tag or "",
        registry="",
        repository=repository,
        tag=tag,
        digest=digest,
        app=app,
        app_version=app_version,
        components=tuple(components),
        flavour=flavour,
        build_date=build_date,
        extras=tuple(extras),
        is_moving=is_moving,
        build_date_unverified=date_unverified and build_date is None,
    )
