"""Views of the models store in the layouts apps read, made of relative symlinks: no copies.

The store keeps one tree, ``<org>/<repo>/<file>``. Apps look elsewhere: ComfyUI and A1111 in
folders per model type, ai-runner, vLLM and diffusers apps in a Hugging Face cache. paitui keeps
both layouts under ``<store>/.paitui-views/`` as symlinks *relative to the store*, so they resolve
inside any container that mounts the store (read-only) at any path, and on the host too:

- ``by-kind/<folder>/<org>--<repo>/<file>`` → ``../../../../<org>/<repo>/<file>``, one folder per
  model type, named after ComfyUI's folder keys; the generated ``comfyui.yaml`` maps them for
  ComfyUI's ``--extra-model-paths-config``, A1111-style apps take them by flag.
- ``hf/models--<org>--<repo>/snapshots/<rev>/<file>`` plus ``refs/main`` holding ``<rev>``: the
  "no-blob" cache huggingface_hub itself writes when symlinks are off, which ``hf_hub_download``,
  ``snapshot_download(local_files_only=True)`` and transformers read offline.

Files of the user's own HF cache (read-only, never copied) appear in both views too, as
*absolute* symlinks to the cache's snapshot entries: they resolve in a container only where the
cache is mounted at its own host path, which the planner does for apps that read the views. A repo
the store holds is taken from the store alone (one snapshot per repo in the HF view).

Why views and not the HF layout for the store itself: the plain tree is what people browse, back up
and point other tools at, and apps that take one file by argument (llama.cpp, KoboldCpp) want a
readable path; the views cost a few symlinks and are rebuilt from the index at any time. Repo ids
cannot start with ``.``, so no repo ever collides with ``.paitui-views``.

Pure: from the index (and each file's type) to the wanted tree; ``services.model_views`` writes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from paitui.domain.models.records import InstalledModel, check_file_path, check_repo_id

#: The views' folder inside the store.
VIEWS_DIR = ".paitui-views"
BY_KIND = "by-kind"
HF_CACHE = "hf"
COMFYUI_PATHS = "comfyui.yaml"

#: Model type (``model_kinds.ModelKind`` value) → folder of the by-kind view (ComfyUI's keys,
#: which A1111-style flags can name one by one). Types no image app reads by folder have none.
KIND_FOLDERS: dict[str, str] = {
    "checkpoint": "checkpoints",
    "diffusion_model": "diffusion_models",
    "lora": "loras",
    "vae": "vae",
    "text_encoder": "text_encoders",
    "controlnet": "controlnet",
    "upscaler": "upscale_models",
    "embedding": "embeddings",
    "llm": "llm",
}


#: Apps that want one models dir with their own folder names (SD.Next's ``SD_MODELSDIR``) get it
#: as ``<name>/<their folder>`` -> ``../by-kind/<folder>``: directory links, no second tree.
APP_FOLDER_SETS: dict[str, dict[str, str]] = {
    "sdnext": {
        "Stable-diffusion": "checkpoints",
        "Lora": "loras",
        "VAE": "vae",
        "UNET": "diffusion_models",
        "Text-encoder": "text_encoders",
        "embeddings": "embeddings",
        "control": "controlnet",
        "ESRGAN": "upscale_models",
    },
}
#: Folders of an app set that are the HF cache view rather than a type folder: SD.Next reads
#: diffusers pipelines from ``models--org--name/snapshots/<rev>/`` entries of its Diffusers dir.
APP_HF_FOLDERS: dict[str, tuple[str, ...]] = {"sdnext": ("Diffusers",)}


@dataclass(frozen=True)
class ViewLink:
    """A symlink at ``path`` (relative to the views dir) pointing at ``target`` (relative)."""

    path: str
    target: str


@dataclass(frozen=True)
class ViewFile:
    """A small file paitui writes in the views dir (``refs/main``, ``comfyui.yaml``)."""

    path: str
    content: str


@dataclass(frozen=True)
class ViewTree:
    """Everything the views dir should hold; anything else in it is stale."""

    links: tuple[ViewLink, ...]
    files: tuple[ViewFile, ...]
    dirs: tuple[str, ...]  # folders that must exist even when empty (apps makedirs otherwise)


def _up(depth: int) -> str:
    return "/".join([".."] * depth)


def _safe(model: InstalledModel) -> tuple[str, str, PurePosixPath] | None:
    try:
        org, repo = check_repo_id(model.repo_id)
        return org, repo, check_file_path(model.path)
    except ValueError:
        return None  # never link what the store itself would not accept


def _comfyui_yaml() -> str:
    lines = [
        "# Written by paitui: its models store in ComfyUI's folder types, read-only.",
        "# Rewritten on every launch; edit ComfyUI's own extra_model_paths.yaml instead.",
        "paitui:",
        f"  base_path: {BY_KIND}",  # relative to this file (ComfyUI utils/extra_config.py)
    ]
    lines += [f"  {folder}: {folder}" for folder in sorted(set(KIND_FOLDERS.values()))]
    return "\n".join(lines) + "\n"


def view_tree(
    installed: Iterable[InstalledModel],
    kinds: Mapping[tuple[str, str], str],
    cached: Iterable[InstalledModel] = (),
) -> ViewTree:
    """The views for these installed files; ``kinds`` maps ``(repo_id, path)`` to a type value.

    ``cached`` are HF-cache files (``store_path`` absolute), linked by absolute path; their
    kinds are looked up in ``kinds`` too.
    """
    links: dict[str, ViewLink] = {}
    newest: dict[str, tuple[str, str]] = {}  # repo -> (install date, revision)
    repo_files: dict[str, list[tuple[PurePosixPath, str]]] = {}
    own = sorted(installed, key=lambda m: (m.repo_id, m.path))
    own_repos = {m.repo_id for m in own}
    foreign = [
        m for m in sorted(cached, key=lambda m: (m.repo_id, m.path))
        if m.repo_id not in own_repos and PurePosixPath(m.store_path).is_absolute()
    ]  # fmt: skip
    for model in [*own, *foreign]:
        safe = _safe(model)
        if safe is None:
            continue
        org, repo, rel = safe
        in_store = model.repo_id in own_repos
        # The newest install names the snapshot, and every file of the repo appears in it:
        # loaders want a whole repo in one snapshot dir.
        if model.date >= newest.get(model.repo_id, ("", ""))[0]:
            newest[model.repo_id] = (model.date, model.revision or "main")
        # Up from the view's folder to the store: the link's own depth plus .paitui-views.
        store_rel = f"{org}/{repo}/{rel}"
        repo_files.setdefault(model.repo_id, []).append(
            (rel, store_rel if in_store else model.store_path)
        )
        folder = KIND_FOLDERS.get(kinds.get((model.repo_id, model.path), ""))
        if folder is not None:
            path = f"{BY_KIND}/{folder}/{org}--{repo}/{rel}"
            # From the link's folder up to the store: by-kind, <folder>, <org--repo>, the
            # file's own folders, and .paitui-views itself.
            depth = 3 + len(rel.parts)
            target = f"{_up(depth)}/{store_rel}" if in_store else model.store_path
            links[path] = ViewLink(path, target)
    files = [ViewFile(COMFYUI_PATHS, _comfyui_yaml())]
    for repo_id, rels in repo_files.items():
        org, repo = repo_id.split("/")
        rev = _snapshot_name(newest[repo_id][1])
        base = f"{HF_CACHE}/models--{org}--{repo}"
        files.append(ViewFile(f"{base}/refs/main", rev))  # read without strip: no newline
        for rel, where in rels:
            path = f"{base}/snapshots/{rev}/{rel}"
            # Up: hf, models--x, snapshots, <rev>, the file's own folders, .paitui-views.
            depth = 4 + len(rel.parts)
            target = where if where.startswith("/") else f"{_up(depth)}/{where}"
            links[path] = ViewLink(path, target)
    for set_name, folders in APP_FOLDER_SETS.items():
        for name, folder in folders.items():
            path = f"{set_name}/{name}"
            links[path] = ViewLink(path, f"../{BY_KIND}/{folder}")
        for name in APP_HF_FOLDERS.get(set_name, ()):
            links[f"{set_name}/{name}"] = ViewLink(f"{set_name}/{name}", f"../{HF_CACHE}")
    dirs = tuple(sorted({f"{BY_KIND}/{f}" for f in KIND_FOLDERS.values()} | {HF_CACHE}))
    return ViewTree(tuple(links.values()), tuple(files), dirs)


def _snapshot_name(revision: str) -> str:
    # A revision is a commit hash from the Hub; anything else must still be one safe path part.
    clean = "".join(c for c in revision if c.isalnum() or c in "-_.")
    return clean.strip(".") or "main"
