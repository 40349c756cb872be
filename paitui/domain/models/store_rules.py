"""Rules that keep the shared models store the user's data: no container writes, owns or chowns it.

The store is always mounted read-only, and never at, above or below a path the container can
write: a read-only mount nested in a writable data dir is still reached by an entrypoint's
``chown -R`` or ``cp -r`` over that dir (which then fails or, on older images, mutates the host),
and a nested mount point makes the engine create directories inside the app's data, which fools
first-run seeding (Pai ComfyUI skips its setup when ``models/`` already exists).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath


def overlaps(a: str, b: str) -> bool:
    """Whether one container path is the other or lies inside it (``/a`` and ``/a/b`` overlap)."""
    pa, pb = PurePosixPath(a), PurePosixPath(b)
    return pa == pb or pa in pb.parents or pb in pa.parents


def store_target_problems(store_target: str, writable_targets: Iterable[str]) -> list[str]:
    """Why the models store cannot be mounted at ``store_target`` next to these writable mounts."""
    problems: list[str] = []
    target = PurePosixPath(store_target)
    if not target.is_absolute():
        problems.append(f"the models store path {store_target!r} must be absolute")
        return problems
    if target == PurePosixPath("/"):
        problems.append("the models store cannot be mounted over the container's /")
        return problems
    for other in writable_targets:
        if overlaps(store_target, other):
            problems.append(
                f"the models store at {store_target} overlaps the writable mount {other}: "
                "an entrypoint that chowns or copies into it would reach the store; "
                "mount the store outside every writable dir"
            )
    return problems


def host_path_problems(store: str, writable_sources: Iterable[str]) -> list[str]:
    """Why writable host paths given to a container would expose the store (checked on the host)."""
    return [
        f"the writable host path {source} overlaps the models store {store}: "
        "keep the apps' data dirs and the models store apart"
        for source in writable_sources
        if PurePosixPath(source).is_absolute() and overlaps(store, source)
    ]
