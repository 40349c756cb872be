"""The files that travel with a chosen GGUF: shard 1 of its set, and the projector beside it.

llama.cpp and KoboldCpp load a split GGUF from its first shard and build the other names next to
it, so the app is given shard 1 whatever shard was named. A multimodal model needs its projector
(``mmproj``) too, passed by a flag of its own; a repo often holds it in several precisions, of
which one is taken, f16 first (what llama.cpp's ``-hf`` fetches by default), then bf16, f32, q8.

Pure: from paths (and each file's type) to the choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from paitui.domain.models.kinds import ModelKind, group_model_files

#: Projector precisions in order of preference; one not named comes after them.
PROJECTOR_PREFERENCE = ("f16", "bf16", "f32", "q8")


@dataclass(frozen=True)
class ModelCompanions:
    """What to hand the app for one chosen model file."""

    main: str  # the file itself, or shard 1 of its set
    shards: tuple[str, ...]  # every shard present (just ``(main,)`` for one file)
    projector: str | None = None


def _rank(path: str) -> tuple[int, str]:
    name = PurePosixPath(path).name.lower()
    tokens = name.replace("-", ".").replace("_", ".").split(".")
    for i, precision in enumerate(PROJECTOR_PREFERENCE):
        if precision in tokens:
            return i, path
    return len(PROJECTOR_PREFERENCE), path


def pick_projector(candidates: Iterable[str]) -> str | None:
    """The projector to pass among ``candidates`` (by precision, then path); None if none."""
    ranked = sorted(dict.fromkeys(candidates), key=_rank)
    return ranked[0] if ranked else None


def _is_projector(path: str, kinds: Mapping[str, str]) -> bool:
    name = PurePosixPath(path).name.lower()
    return kinds.get(path) == ModelKind.PROJECTOR.value or (
        name.endswith(".gguf") and "mmproj" in name
    )


def model_companions(
    chosen: str, files: Iterable[str], kinds: Mapping[str, str] | None = None
) -> ModelCompanions:
    """Shard 1 and the projector for ``chosen`` among ``files`` (paths of the same repo, in the
    same form as ``chosen``); ``kinds`` maps a path to its type, so a projector not named
    ``mmproj`` (a GGUF of type projector) counts too. A projector chosen itself has none."""
    kinds = kinds or {}
    paths = list(dict.fromkeys([*files, chosen]))
    if not chosen.lower().endswith(".gguf") or _is_projector(chosen, kinds):
        return ModelCompanions(chosen, (chosen,))
    group = next(
        (g for g in group_model_files(paths) if chosen in g.shards),
        None,
    )
    if group is None:  # not reachable: every path is in one group
        return ModelCompanions(chosen, (chosen,))
    folder = PurePosixPath(group.main).parent
    typed = [
        p for p in paths
        if p not in group.shards and PurePosixPath(p).parent == folder and _is_projector(p, kinds)
    ]  # fmt: skip
    return ModelCompanions(group.main, group.shards, pick_projector([*group.projectors, *typed]))
