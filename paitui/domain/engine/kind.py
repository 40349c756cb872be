"""Which engine answers on the Docker API: Docker or Podman, rootless or not, with which runtime.

Told from the engine's own answers: ``/version`` names a "Podman Engine" component on Podman
(Docker's is "Engine"), ``/info`` lists ``name=rootless`` among its SecurityOptions on both when
rootless, and gives the default OCI runtime (``--group-add keep-groups`` needs crun).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DOCKER = "Docker"
PODMAN = "Podman"


@dataclass(frozen=True)
class EngineKind:
    """What kind of engine serves the API."""

    name: str = DOCKER  # DOCKER or PODMAN
    version: str | None = None
    rootless: bool = False
    #: The default OCI runtime (``runc``, ``crun``...), when the engine says.
    runtime: str | None = None

    @property
    def podman(self) -> bool:
        return self.name == PODMAN

    def describe(self) -> str:
        """One phrase: ``Podman 4.3.1 (rootless, crun)``."""
        extras = ["rootless" if self.rootless else "rootful"]
        if self.runtime:
            extras.append(self.runtime)
        return f"{self.name} {self.version or '?'} ({', '.join(extras)})"


def engine_name(version: Mapping[str, Any] | None) -> str:
    """DOCKER or PODMAN from a ``/version`` answer (Docker when it names neither)."""
    for component in (version or {}).get("Components") or ():
        if isinstance(component, Mapping) and "podman" in str(component.get("Name", "")).lower():
            return PODMAN
    return DOCKER


def is_rootless(info: Mapping[str, Any]) -> bool:
    """Whether ``/info`` says the engine runs rootless (both engines list ``name=rootless``)."""
    return any("name=rootless" in str(s) for s in info.get("SecurityOptions") or ())


def engine_kind(version: Mapping[str, Any] | None, info: Mapping[str, Any]) -> EngineKind:
    """The engine's kind from its ``/version`` and ``/info`` answers."""
    runtime = info.get("DefaultRuntime")
    return EngineKind(
        name=engine_name(version),
        version=str((version or {}).get("Version") or info.get("ServerVersion") or "") or None,
        rootless=is_rootless(info),
        runtime=str(runtime) if runtime else None,
    )
