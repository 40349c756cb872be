"""What the launch dialog hands back, and the form's pure helpers (model options, labels)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from paitui.domain.catalog.schema import App
from paitui.domain.launch.model_choice import (
    app_formats,
)
from paitui.domain.launch.plan import LaunchPlan
from paitui.domain.models.records import InstalledModel, human_size

#: The model select's entry that moves to the "get a model" part below it.
DOWNLOAD = "__download__"


@dataclass(frozen=True)
class LaunchRequest:
    """What the user confirmed: start this plan (or go and download a model first)."""

    plan: LaunchPlan | None
    download_formats: tuple[str, ...] = ()


def model_options(app: App, models: Sequence[InstalledModel]) -> list[tuple[str, str]]:
    """Installed files the app can read, as (label, store-relative path)."""
    wanted = set(app.needs.model_file) or set(
        app.mounts.models.formats if app.mounts.models else ()
    )
    options = []
    for m in models:
        if wanted and not wanted.intersection(m.formats):
            continue
        options.append((f"{m.repo_id}/{m.path}  {human_size(m.size)}", f"{m.repo_id}/{m.path}"))
    return options


def formats_label(app: App) -> str:
    """The formats an app reads, as people name them ("GGUF/safetensors")."""
    names = {
        "gguf": "GGUF",
        "safetensors": "safetensors",
        "ckpt": "checkpoint",
        "diffusers": "diffusers",
        "hf-repo": "Hugging Face",
    }
    formats = [names.get(f, f) for f in app_formats(app)]
    return "/".join(dict.fromkeys(formats)) or "model"


def folder(text: str | None) -> str | None:
    """A folder the user typed, ``~`` expanded (the planner wants an absolute path)."""
    return os.path.expanduser(text.strip()) if text and text.strip() else None
