"""Which box holds which model: another box's store listing (its ``paitui models ls --json``)
read defensively, and the per-repo "local, gpu1" the Models screen shows.

Pure: the listing comes in as text (untrusted: every field is checked), the holders come out
as data. ``paitui.services.models.remote`` asks the boxes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: Longest listing read from another box (a store of thousands of files is well under it).
MAX_LISTING_BYTES = 8 << 20


@dataclass(frozen=True)
class HeldFile:
    """One file of another box's store."""

    path: str
    size: int
    apps: tuple[str, ...] = ()


@dataclass(frozen=True)
class HeldRepo:
    """One repo of another box's store (or its read-only HF cache)."""

    repo_id: str
    origin: str  # "store" or "hf-cache"
    size: int
    files: tuple[HeldFile, ...]


@dataclass(frozen=True)
class RemoteStore:
    """What another box's paitui says it holds, and where."""

    host: str
    root: str
    repos: tuple[HeldRepo, ...]

    @property
    def repo_ids(self) -> set[str]:
        """Every repo it holds a file of."""
        return {r.repo_id for r in self.repos if r.files}

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "host": self.host,
            "store": self.root,
            "repos": [
                {
                    "repo": r.repo_id,
                    "origin": r.origin,
                    "size": r.size,
                    "files": [f.__dict__ | {"apps": list(f.apps)} for f in r.files],
                }
                for r in self.repos
            ],
        }


def _size(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def parse_listing(host: str, text: str | bytes) -> RemoteStore:
    """A remote ``paitui models ls --json`` answer; ValueError saying why it is not one."""
    if len(text) > MAX_LISTING_BYTES:
        raise ValueError(f"the answer is over {MAX_LISTING_BYTES} bytes; not a store listing")
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the answer is not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("repos"), list):
        raise ValueError("the answer is JSON but not a paitui store listing")
    repos: list[HeldRepo] = []
    for raw in data["repos"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("repo"), str) or not raw["repo"]:
            continue
        files = tuple(
            HeldFile(
                f["path"],
                _size(f.get("size")),
                tuple(a for a in f.get("apps") or () if isinstance(a, str)),
            )
            for f in raw.get("files") or ()
            if isinstance(f, dict) and isinstance(f.get("path"), str) and f["path"]
        )
        origin = raw.get("origin") if isinstance(raw.get("origin"), str) else "store"
        repos.append(HeldRepo(raw["repo"], str(origin), _size(raw.get("size")), files))
    root = data.get("store") if isinstance(data.get("store"), str) else ""
    return RemoteStore(host, str(root), tuple(repos))


def holders(
    here: str, local: Iterable[str], others: Mapping[str, Iterable[str] | None]
) -> dict[str, tuple[str, ...]]:
    """Per repo, the boxes that hold it: ``here`` (this box's name) first, then the others in
    the order given. A box whose listing is unknown (None) holds nothing as far as known."""
    found: dict[str, list[str]] = {}
    for repo in local:
        found.setdefault(repo, []).append(here)
    for host, repos in others.items():
        for repo in sorted(set(repos or ())):
            if host not in found.setdefault(repo, []):
                found[repo].append(host)
    return {repo: tuple(boxes) for repo, boxes in sorted(found.items())}


def holders_cell(
    repo_id: str, held: Mapping[str, Sequence[str]], unknown: Sequence[str] = ()
) -> str:
    """The Models screen's "on" cell of a repo: ``local, gpu1``; boxes that did not answer are
    added as ``gpu2?`` so a missing name never reads as "not there" for sure."""
    boxes = list(held.get(repo_id, ()))
    return ", ".join([*boxes, *(f"{h}?" for h in unknown if h not in boxes)])


def where_cell(
    local_place: str, repo_id: str, held: Mapping[str, Iterable[str]], unknown: Sequence[str] = ()
) -> str:
    """The library's "Where" cell: this box's place (``store``, ``HF cache``), then the other
    boxes that hold the repo too, and ``box?`` for boxes that did not answer."""
    others = [host for host, repos in held.items() if repo_id in set(repos)]
    boxes = ", ".join([*others, *(f"{h}?" for h in unknown if h not in others)])
    return f"{local_place} · {boxes}" if boxes else local_place


def only_elsewhere(local: Iterable[str], held: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Per other box, how many repos it holds that this box does not."""
    here = set(local)
    return {host: n for host, repos in held.items() if (n := len(set(repos) - here))}
