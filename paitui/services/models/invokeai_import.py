"""Register store models in a running InvokeAI, in place: InvokeAI keeps no folder per type but
records in its database, so a model reaches it through its install API, never by a copy.

``POST /api/v2/models/install?source=<path>&inplace=true`` (body ``{}``) starts a job that
probes and hashes the file where it is and records its path; ``GET .../install/<id>`` tells how
it ended. The path is the store's path *in the container* (``/mnt/models/...``), which is why the
store is always mounted there. ``GET /api/v2/models/`` lists what is registered, so an import
run twice registers nothing twice. A diffusers pipeline (``model_index.json`` at the repo's root)
is one model, its folder; any other repo gives one model per weight file of an image type.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import httpx

from paitui.domain.models.records import InstalledModel
from paitui.domain.problems import Problem

#: Types InvokeAI has no use for: an import of a whole repo skips them.
_NOT_IMAGE = {"llm", "projector", "adapter"}
_WEIGHTS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")
_DONE = {"completed", "error", "cancelled"}


class InvokeImportError(Problem):
    """A registration that failed, with what to do about it."""


@dataclass(frozen=True)
class Registered:
    """One source and how it ended: ``registered`` now, or ``already`` there."""

    source: str
    outcome: str
    name: str | None = None


def install_sources(
    repo_files: Sequence[InstalledModel], named: Sequence[InstalledModel], store_target: str
) -> list[str]:
    """The container paths to register for ``named`` (files of one repo, ``repo_files`` being
    all of it): the repo's folder for a diffusers pipeline named whole, else each weight file."""
    if not named:
        return []
    repo_id = named[0].repo_id
    base = PurePosixPath(store_target) / repo_id
    whole = len(named) > 1 or named[0].path == "model_index.json"
    if whole and any(m.path == "model_index.json" for m in repo_files):
        return [str(base)]
    one = len(named) == 1
    return [
        str(base / m.path) for m in named
        if m.path.lower().endswith(_WEIGHTS) and (one or m.effective_kind not in _NOT_IMAGE)
    ]  # fmt: skip


def _registered_paths(client: httpx.Client) -> set[str]:
    got = client.get("/api/v2/models/")
    if got.status_code != 200:
        raise InvokeImportError(
            f"InvokeAI did not list its models: HTTP {got.status_code}", "check the app's logs"
        )
    models = got.json().get("models", [])
    return {str(m.get("path")) for m in models if isinstance(m, dict)}


def _wait(
    client: httpx.Client, job: dict[str, Any], deadline: float, poll_s: float
) -> dict[str, Any]:
    while str(job.get("status")) not in _DONE:
        if time.monotonic() > deadline:
            raise InvokeImportError(
                f"InvokeAI is still registering {job.get('source')} ({job.get('status')})",
                "it goes on in the app: see its Model Manager, or run the import again later",
            )
        time.sleep(poll_s)
        got = client.get(f"/api/v2/models/install/{job['id']}")
        if got.status_code != 200:
            raise InvokeImportError(
                f"InvokeAI lost install job {job['id']}: HTTP {got.status_code}",
                "see its Model Manager",
            )
        job = got.json()
    return job


def register_in_place(
    base_url: str,
    sources: Sequence[str],
    *,
    name: str | None = None,
    timeout: float = 30.0,
    wait_s: float = 1800.0,
    poll_s: float = 0.5,
    on_source: Callable[[str], None] | None = None,
) -> list[Registered]:
    """Register each of ``sources`` (container paths) in the InvokeAI at ``base_url``, in place;
    waits for each job (InvokeAI hashes the whole file). InvokeImportError says what failed;
    what was registered before it stays registered."""
    if not sources:
        raise InvokeImportError("nothing to register")
    done: list[Registered] = []
    try:
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            have = _registered_paths(client)
            for source in sources:
                if on_source:
                    on_source(source)
                if source in have:
                    done.append(Registered(source, "already"))
                    continue
                config = {"name": name} if name and len(sources) == 1 else {}
                sent = client.post(
                    "/api/v2/models/install",
                    params={"source": source, "inplace": "true"},
                    json=config,
                )
                if sent.status_code == 409:
                    done.append(Registered(source, "already"))
                    continue
                if sent.status_code == 415:
                    raise InvokeImportError(
                        f"InvokeAI does not recognise {source} as a model it can use",
                        "name one file of an image model: REPO/FILE",
                    )
                if sent.status_code not in (200, 201):
                    raise InvokeImportError(
                        f"InvokeAI refused {source}: HTTP {sent.status_code} {sent.text.strip()}",
                        "check the app's logs; the store is unchanged",
                    )
                job = _wait(client, sent.json(), time.monotonic() + wait_s, poll_s)
                if job.get("status") != "completed":
                    why = job.get("error") or job.get("error_type") or job.get("status")
                    if "Duplicate" in str(job.get("error_type")):
                        done.append(Registered(source, "already"))
                        continue
                    raise InvokeImportError(
                        f"InvokeAI could not register {source}: {why}", "check the app's logs"
                    )
                out = job.get("config_out") or {}
                done.append(Registered(source, "registered", out.get("name")))
    except httpx.HTTPError as exc:
        raise InvokeImportError(
            f"cannot reach InvokeAI at {base_url}: {exc}",
            "start the app and wait until it is ready",
        ) from None
    except ValueError as exc:  # a body that is no JSON
        raise InvokeImportError(f"InvokeAI answered something unexpected: {exc}") from None
    return done
