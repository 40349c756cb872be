"""Write the store's views (``domain.model_views``) to disk: relative symlinks, atomically, and
nothing outside ``<store>/.paitui-views``.

Every change is a rename of a finished temp entry, so an app scanning its folders sees the old or
the new view, never half of one. A symlink or file where a folder of the views should be is
removed, never followed: the views dir is the one place under the store paitui rewrites freely.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from paitui.domain.launch.plan import ModelLinks
from paitui.domain.models.kinds import ModelKind, classify
from paitui.domain.models.records import InstalledModel
from paitui.domain.models.views import VIEWS_DIR, ViewTree, view_tree
from paitui.services.models.headers import read_model_header
from paitui.services.models.store import ModelStore


class ViewsError(Exception):
    """The views could not be written, with what to do about it."""


@dataclass(frozen=True)
class ViewsReport:
    """What one sync changed."""

    linked: int
    written: int
    removed: int


def _ensure_dir(root: Path, rel: str) -> Path:
    """``root/rel`` as a real folder, replacing anything that is not one (never following links)."""
    current = root
    for part in Path(rel).parts:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            current.unlink()
        if not current.exists():
            current.mkdir(mode=0o755)
    return current


def _replace_with_link(path: Path, target: str) -> bool:
    if path.is_symlink() and os.readlink(path) == target:
        return False
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, path)
    return True


def _replace_with_file(path: Path, content: str) -> bool:
    if path.is_file() and not path.is_symlink() and path.read_text("utf-8") == content:
        return False
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(content, "utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


def views_root(store: Path) -> Path:
    """Where the views live."""
    return Path(store) / VIEWS_DIR


def sync_views(store: Path, tree: ViewTree) -> ViewsReport:
    """Make ``<store>/.paitui-views`` hold exactly ``tree``; ViewsError when it cannot."""
    root = views_root(store)
    try:
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            root.unlink()
        root.mkdir(mode=0o755, parents=True, exist_ok=True)
        linked = written = 0
        for folder in tree.dirs:
            _ensure_dir(root, folder)
        for link in tree.links:
            parent = _ensure_dir(root, str(Path(link.path).parent))
            linked += _replace_with_link(parent / Path(link.path).name, link.target)
        for file in tree.files:
            parent = _ensure_dir(root, str(Path(file.path).parent))
            written += _replace_with_file(parent / Path(file.path).name, file.content)
        removed = _remove_stale(root, tree)
    except OSError as exc:
        raise ViewsError(
            f"cannot write the models views in {root}: {exc.strerror or exc}; "
            "check that the models store is writable by you"
        ) from None
    return ViewsReport(linked, written, removed)


def _remove_stale(root: Path, tree: ViewTree) -> int:
    wanted = {lk.path for lk in tree.links} | {f.path for f in tree.files}
    keep_dirs = set(tree.dirs)
    for path in wanted | keep_dirs:
        keep_dirs.update(str(p) for p in Path(path).parents if str(p) != ".")
    removed = 0
    for dirpath, dirnames, filenames in os.walk(root, topdown=False, followlinks=False):
        here = Path(dirpath)
        for name in [*filenames, *dirnames]:
            entry = here / name
            rel = str(entry.relative_to(root))
            if entry.is_symlink() or not entry.is_dir():
                if rel not in wanted:
                    entry.unlink()
                    removed += 1
            elif rel not in keep_dirs and not any(entry.iterdir()):
                entry.rmdir()
                removed += 1
    return removed


#: Classifications by (path, size, mtime): a header is read once per file version, not per launch.
_KIND_CACHE: dict[tuple[str, int, int], str] = {}


def kind_of_file(model: InstalledModel) -> str:
    """The type of one file: the user's choice, the kind recorded at install, else from its own
    header and name (``domain.model_kinds``; index entries older than recorded kinds)."""
    if model.user_kind or model.kind:
        return model.effective_kind
    try:
        st = os.stat(model.store_path)
    except OSError:
        return ModelKind.UNKNOWN.value
    key = (model.store_path, st.st_size, st.st_mtime_ns)
    if key not in _KIND_CACHE:
        header = read_model_header(Path(model.store_path))
        _KIND_CACHE[key] = classify(model.path, header).kind.value
    return _KIND_CACHE[key]


def refresh_views(store: Path, hf_cache: Path | bool | None = True) -> ViewsReport:
    """Rebuild the store's views from its index and the user's HF cache (``hf_cache``: True for
    ``hub_cache_dir()``, False for none, or a path); ViewsError when they cannot be written."""
    from paitui.services.models.library import cache_models, user_hf_cache

    models = ModelStore(Path(store))
    installed = models.installed()
    where = user_hf_cache() if hf_cache is True else (hf_cache or None)
    cached = cache_models(where, models.cache_kinds()) if where is not None else []
    kinds = {(m.repo_id, m.path): kind_of_file(m) for m in installed}
    kinds.update({(m.repo_id, m.path): m.effective_kind for m in cached})
    return sync_views(Path(store), view_tree(installed, kinds, cached))


def link_name(model: InstalledModel) -> str:
    """The file name an app lists for one store file: ``org--repo--path--file.gguf``."""
    return "--".join([*model.repo_id.split("/"), *model.path.split("/")])


def sync_links(links: ModelLinks) -> int:
    """Make ``links.host_dir`` hold one symlink per installed file of the app's formats, into
    the store as the container sees it; returns how many changed. Only symlinks into the store
    are ever removed: whatever else the app keeps in its folder is its own."""
    folder = Path(links.host_dir)
    prefix = links.store_target.rstrip("/") + "/"
    wanted: dict[str, str] = {}
    for model in ModelStore(Path(links.store)).installed():
        if links.formats and not set(model.formats) & set(links.formats):
            continue
        wanted[link_name(model)] = f"{prefix}{model.repo_id}/{model.path}"
    changed = 0
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            ours = entry.is_symlink() and os.readlink(entry).startswith(prefix)
            if ours and wanted.get(entry.name) != os.readlink(entry):
                entry.unlink()
                changed += 1
        for name, target in wanted.items():
            path = folder / name
            if path.is_symlink() or path.exists():
                continue  # ours and current, or the app's own file of that name: left alone
            _replace_with_link(path, target)
            changed += 1
    except OSError as exc:
        raise ViewsError(
            f"cannot link the models into {folder}: {exc.strerror or exc}; "
            "check that the app's data dir is writable by you"
        ) from None
    return changed
