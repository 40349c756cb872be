"""Give a GGUF from the store to a running Ollama: Ollama keeps its own blob store, so a model
reaches it by import, through its documented API, never by mounting the store writable.

``HEAD /api/blobs/sha256:<hex>`` says whether Ollama has the bytes already; ``POST`` of the same
URL streams them (Ollama checks the digest, and answers 400 on a mismatch); ``POST /api/create``
with ``files: {name: digest}`` makes the model. The digest is the sha256 the store verified at
download, so nothing is hashed again. Ollama then holds its own copy: an import costs the file's
size in Ollama's data dir, and since Ollama 0.30 ``create`` may rewrite the layer into a new blob,
so up to twice that while it runs. ``import_cost`` says so before anything is sent.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

from paitui.domain.models.records import InstalledModel
from paitui.domain.problems import Problem

CHUNK = 1 << 20
_NAME_BAD = re.compile(r"[^a-z0-9._-]+")


class OllamaImportError(Problem):
    """An import that failed, with what to do about it."""


@dataclass(frozen=True)
class ImportCost:
    """Disk an import needs in Ollama's data dir, and what is free there."""

    final_bytes: int  # what Ollama keeps
    peak_bytes: int  # while ``create`` may rewrite the layer
    free_bytes: int | None  # None when the data dir cannot be inspected

    @property
    def fits(self) -> bool | None:
        """Whether the peak fits in the free space (None: unknown)."""
        return None if self.free_bytes is None else self.peak_bytes <= self.free_bytes


def ollama_name(model: InstalledModel) -> str:
    """A model name Ollama accepts, from the file name: ``Qwen2.5-0.5B.Q4_K_M.gguf`` ->
    ``qwen2.5-0.5b.q4_k_m``."""
    stem = PurePosixPath(model.path).name
    stem = re.sub(r"-0*1-of-\d+\.gguf$", "", stem, flags=re.IGNORECASE)
    stem = re.sub(r"\.gguf$", "", stem, flags=re.IGNORECASE)
    name = _NAME_BAD.sub("-", stem.lower()).strip("-.")
    return name[:80] or "model"


def import_cost(files: Sequence[InstalledModel], data_dir: Path | None) -> ImportCost:
    """What importing ``files`` costs on disk, and whether it fits where Ollama keeps its blobs."""
    size = sum(f.size for f in files)
    free: int | None = None
    if data_dir is not None:
        probe = Path(data_dir)
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            free = shutil.disk_usage(probe).free
        except OSError:
            free = None
    return ImportCost(final_bytes=size, peak_bytes=2 * size, free_bytes=free)


def _read(path: Path, on_bytes: Callable[[int], None] | None) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if on_bytes:
                on_bytes(len(chunk))
            yield chunk


def _digest(model: InstalledModel) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", model.sha256 or ""):
        raise OllamaImportError(
            f"{model.repo_id}/{model.path} has no verified sha256 in the store",
            f"download it again: paitui models pull {model.repo_id} {model.path}",
        )
    return f"sha256:{model.sha256}"


def import_gguf(
    base_url: str,
    files: Sequence[InstalledModel],
    name: str,
    *,
    on_bytes: Callable[[int], None] | None = None,
    timeout: float = 30.0,
) -> str:
    """Import ``files`` (a GGUF, its other shards and any projector) into the Ollama at
    ``base_url`` as ``name``; returns the name. OllamaImportError says what went wrong."""
    if not files:
        raise OllamaImportError("nothing to import")
    try:
        with httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout, write=None)) as client:
            digests: dict[str, str] = {}
            for model in files:
                digest = _digest(model)
                digests[PurePosixPath(model.path).name] = digest
                have = client.head(f"/api/blobs/{digest}")
                if have.status_code == 200:
                    if on_bytes:
                        on_bytes(model.size)
                    continue
                sent = client.post(
                    f"/api/blobs/{digest}", content=_read(Path(model.store_path), on_bytes)
                )
                if sent.status_code not in (200, 201):
                    raise OllamaImportError(
                        f"Ollama refused {model.path}: HTTP {sent.status_code} {sent.text.strip()}",
                        "check the app's logs; the file in the store is unchanged",
                    )
            made = client.post(
                "/api/create",
                json={"model": name, "files": digests, "stream": False},
                timeout=httpx.Timeout(timeout, read=None),  # create may rewrite gigabytes
            )
            if made.status_code != 200:
                raise OllamaImportError(
                    f"Ollama could not create {name}: HTTP {made.status_code} {made.text.strip()}",
                    "check the app's logs",
                )
    except httpx.HTTPError as exc:
        raise OllamaImportError(
            f"cannot reach Ollama at {base_url}: {exc}", "start the app and wait until it is ready"
        ) from None
    except OSError as exc:
        raise OllamaImportError(f"cannot read the model file: {exc.strerror or exc}") from None
    return name
