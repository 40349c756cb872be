"""Load and validate catalog files, and merge user catalogs over the bundled one.

A broken file never stops paitui: every problem becomes a ``CatalogIssue`` naming the file, line,
column, app and field, and every valid app still loads. The YAML is composed once into a node
tree, with bounded work (``catalog_read``), and the data is built from that tree, so a pydantic
error location maps back to a line and column.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from paitui.domain.catalog.schema import App, Catalog, CatalogIssue, host_access
from paitui.services.catalog.files import (
    ReadProblem,
    catalog_paths,
    read_bytes,
)
from paitui.services.catalog.read import decode, parse
from paitui.settings import config_dir

Loc = tuple[int | str, ...]
#: Issues reported per file: past this, one more issue says how many were left out.
MAX_ISSUES = 100


def _mark_of(node: yaml.Node | None) -> tuple[int | None, int | None]:
    if node is None:
        return None, None
    return node.start_mark.line + 1, node.start_mark.column + 1


def _find_node(root: yaml.Node | None, loc: Loc) -> yaml.Node | None:
    """The deepest node along ``loc``; for a missing key, the mapping that lacks it."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    # A wrong key is best shown at the key; a wrong value at the value.
                    node = value_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
            else:
                return node
        else:
            return node
    return node


def _find_key_node(root: yaml.Node | None, loc: Loc) -> yaml.Node | None:
    parent = _find_node(root, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(loc[-1]):
                return key_node
    return None


def _top_key_node(root: yaml.Node | None, key: Any) -> yaml.Node | None:
    """The key node of the top mapping that loaded as ``key`` (a string, a number, null...)."""
    if not isinstance(root, yaml.MappingNode):
        return None
    for key_node, _ in root.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        is_str = key_node.tag == "tag:yaml.org,2002:str"
        if isinstance(key, str) and is_str and key_node.value == key:
            return key_node
        if key is None and key_node.tag == "tag:yaml.org,2002:null":
            return key_node
        if not isinstance(key, str) and not is_str and key_node.value.lower() == str(key).lower():
            return key_node
    return None


def _duplicate_keys(
    node: yaml.Node | None, path: Loc = (), visited: set[int] | None = None
) -> Iterable[tuple[yaml.Node, Loc]]:
    """Keys that appear twice in one mapping (YAML loaders keep only the last one silently).

    A node that aliases share is walked once (at its first path), so the walk costs the size
    of the file, never the size of the alias expansion.
    """
    visited = set() if visited is None else visited
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None:
                if key in seen:
                    yield key_node, (*path, key)
                seen.add(key)
            yield from _duplicate_keys(
                value_node, (*path, key if key is not None else "?"), visited
            )
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            yield from _duplicate_keys(child, (*path, i), visited)


def _data_loc(data: Any, loc: Loc, kind: str) -> Loc:
    """``loc`` without pydantic's union member tags (``json_fields.a.str`` -> ``json_fields.a``).

    A part is kept when it exists in the data, or when it is the missing field itself.
    """
    kept: list[int | str] = []
    current = data
    for i, part in enumerate(loc):
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            current = current[part]
        elif not (i == len(loc) - 1 and kind == "missing"):
            continue
        kept.append(part)
    return tuple(kept)


@functools.cache
def _known_fields() -> tuple[str, ...]:
    """Every field name of the catalog schema, for "did you mean" hints."""
    seen: set[str] = set()
    todo: list[type[BaseModel]] = [App]
    while todo:
        model = todo.pop()
        for name, info in model.model_fields.items():
            seen.add(name)
            todo.extend(_models_in(info.annotation))
    return tuple(sorted(seen))


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _describe_error(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        loc = err.get("loc") or ("",)
        close = difflib.get_close_matches(str(loc[-1]), _known_fields(), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "check its spelling"
        return f"unknown field ({hint})"
    if kind == "model_type" or kind == "dict_type":
        msg = "expected a mapping of fields here"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    # Speak YAML, not Python: a tuple is written as a list, a dict as a mapping.
    msg = msg.replace("a valid tuple", "a list").replace("a valid dictionary", "a mapping")
    value = err.get("input")
    if isinstance(value, str | int | float | bool) and kind not in {"missing", "value_error"}:
        shown = repr(value)
        msg += f" (got {shown if len(shown) <= 60 else shown[:59] + '…'})"
    return msg


def _join_messages(messages: list[str]) -> str:
    if len(messages) == 1:
        return messages[0]
    prefix = "Input should be "
    if all(m.startswith(prefix) for m in messages):
        return prefix + " or ".join(m[len(prefix) :] for m in messages)
    return "; ".join(messages)


def _entry_id(data: Any, index: int) -> str | None:
    """The ``id`` of ``apps[index]`` when it is a string."""
    apps = data.get("apps") if isinstance(data, dict) else None
    if isinstance(apps, list) and 0 <= index < len(apps) and isinstance(apps[index], dict):
        app_id = apps[index].get("id")
        return app_id if isinstance(app_id, str) else None
    return None


def load_file(path: Path) -> tuple[list[App], list[CatalogIssue]]:
    """Validate one catalog file; returns its valid apps and every problem found.

    Never raises for what is in the file, nor for what the path is (FIFO, device, directory,
    too large, unreadable): each problem is an issue located by line and column when it has one.
    """
    apps, issues, _ = check_file(path)
    return apps, issues


def check_file(path: Path) -> tuple[list[App], list[CatalogIssue], list[CatalogIssue]]:
    """``load_file`` plus warnings: settings of the valid apps that grant the container the host."""
    name = str(path)
    try:
        root, data = parse(decode(read_bytes(path)))
    except ReadProblem as exc:
        issue = CatalogIssue(file=name, line=exc.line, column=exc.column, message=exc.message)
        return [], [issue], []
    apps, issues, index_of = _validate(name, root, data)
    if len(issues) > MAX_ISSUES:
        left = len(issues) - MAX_ISSUES
        first_hidden = issues[MAX_ISSUES]
        more = CatalogIssue(
            file=name,
            line=first_hidden.line,
            column=first_hidden.column,
            message=f"{left} more problems from here on are not shown: fix the ones above first",
        )
        issues = [*issues[:MAX_ISSUES], more]
    return apps, issues, _warnings(name, root, apps, index_of)


def _warnings(
    name: str, root: yaml.Node | None, apps: list[App], index_of: Mapping[str, int]
) -> list[CatalogIssue]:
    warnings: list[CatalogIssue] = []
    for app in apps:
        for variant_name, variant in app.variants.items():
            for field, why in host_access(variant):
                loc: Loc = ("variants", variant_name, *field.split("."))
                node_loc: Loc = tuple(
                    int(p) if isinstance(p, str) and p.isdigit() else p
                    for p in ("apps", index_of[app.id], *loc)
                )
                line, col = _mark_of(_find_node(root, node_loc))
                warnings.append(
                    CatalogIssue(
                        file=name,
                        line=line,
                        column=col,
                        app_id=app.id,
                        field=".".join(map(str, loc)),
                        message=f"{why}; launch it only if you trust the image",
                        severity="warning",
                    )
                )
    return warnings


def _validate(
    name: str, root: yaml.Node | None, data: Any
) -> tuple[list[App], list[CatalogIssue], dict[str, int]]:
    """The valid apps, the issues, and the index in ``apps:`` of each valid app's entry."""
    issues: list[CatalogIssue] = []
    for key_node, dup_loc in _duplicate_keys(root):
        line, col = _mark_of(key_node)
        dup_app: str | None = None
        field_loc: Loc = dup_loc
        if len(dup_loc) > 2 and dup_loc[0] == "apps" and isinstance(dup_loc[1], int):
            # Inside an app entry: name the app and the field within it, as other issues do.
            dup_app = _entry_id(data, dup_loc[1])
            field_loc = dup_loc[2:]
        issues.append(
            CatalogIssue(
                file=name,
                line=line,
                column=col,
                app_id=dup_app,
                field=".".join(map(str, field_loc)),
                message="key appears twice; only the last one counts",
            )
        )
    if data is None:
        return [], issues, {}
    if not isinstance(data, dict) or not isinstance(data.get("apps"), list):
        line, col = _mark_of(root)
        issues.append(
            CatalogIssue(
                file=name,
                line=line,
                column=col,
                field="apps",
                message="expected a mapping with an 'apps:' list at the top",
            )
        )
        return [], issues, {}
    unknown_top = sorted(({str(k): k for k in data}).items())
    for key, raw_key in unknown_top:
        if key in {"apps", "version"} and isinstance(raw_key, str):
            continue
        # A key that is not a plain string (an anchored null, a merged key) has no key node
        # of that text: point at the top mapping then.
        line, col = _mark_of(_top_key_node(root, raw_key) or root)
        issues.append(
            CatalogIssue(
                file=name,
                line=line,
                column=col,
                field=key,
                message="unknown top-level key: expected 'apps' (and optionally 'version')",
            )
        )

    apps: list[App] = []
    seen: dict[str, int] = {}
    index_of: dict[str, int] = {}
    for index, entry in enumerate(data["apps"]):
        app_id = entry.get("id") if isinstance(entry, dict) else None
        app_id = app_id if isinstance(app_id, str) else None
        try:
            app = App.model_validate(entry)
        except ValidationError as exc:
            # One issue per place: a value that fits no member of a union gives one error per
            # member; they are merged into "expected a valid string or a valid integer".
            merged: dict[tuple[Loc, bool], list[str]] = {}
            for err in exc.errors():
                at_key = err["type"] == "extra_forbidden" or "[key]" in err["loc"]
                raw_loc = tuple(p for p in err["loc"] if p != "[key]")
                field_loc = _data_loc(entry, raw_loc, err["type"])
                message = _describe_error(err)
                messages = merged.setdefault((field_loc, at_key), [])
                if message not in messages:
                    messages.append(message)
            for (field_loc, at_key), messages in merged.items():
                loc: Loc = ("apps", index, *field_loc)
                node = _find_key_node(root, loc) if at_key and field_loc else None
                line, col = _mark_of(node or _find_node(root, loc))
                issues.append(
                    CatalogIssue(
                        file=name,
                        line=line,
                        column=col,
                        app_id=app_id,
                        field=".".join(map(str, field_loc)) or None,
                        message=_join_messages(messages),
                    )
                )
            continue
        if app.id in seen:
            line, col = _mark_of(_find_node(root, ("apps", index, "id")))
            issues.append(
                CatalogIssue(
                    file=name,
                    line=line,
                    column=col,
                    app_id=app.id,
                    field="id",
                    message=f"duplicate id; the entry at line {seen[app.id]} is kept",
                )
            )
            continue
        seen[app.id] = _mark_of(_find_node(root, ("apps", index, "id")))[0] or 0
        index_of[app.id] = index
        apps.append(app)
    return apps, issues, index_of


def load_catalog(
    extra: Sequence[Path] = (),
    *,
    include_bundled: bool = True,
    include_user: bool = True,
    env: Mapping[str, str] | None = None,
) -> Catalog:
    """The merged catalog: bundled, then ``catalog.d/*.yml``, then ``extra`` (``--catalog``).

    A later file's app replaces an earlier one with the same id; new ids add.
    ``PAITUI_CATALOG`` (a path list separated by ':') adds files after ``catalog.d``.
    """
    env = os.environ if env is None else env
    paths, listing_error = catalog_paths(
        extra, include_bundled=include_bundled, include_user=include_user, env=env
    )
    issues: list[CatalogIssue] = []
    if listing_error is not None:
        folder = config_dir(env) / "catalog.d"
        message = f"cannot list the folder: {listing_error.strerror}"
        issues.append(CatalogIssue(file=str(folder), message=message))
    apps: dict[str, App] = {}
    sources: dict[str, str] = {}
    warnings: list[CatalogIssue] = []
    for path in paths:
        if not os.path.lexists(path):
            issues.append(CatalogIssue(file=str(path), message="file not found"))
            continue
        file_apps, file_issues, file_warnings = check_file(path)
        issues.extend(file_issues)
        warnings.extend(file_warnings)
        for app in file_apps:
            apps[app.id] = app
            sources[app.id] = str(path)
    # Only the warnings of the entries that won (a later file may replace an app).
    kept = tuple(w for w in warnings if w.app_id is not None and sources.get(w.app_id) == w.file)
    return Catalog(apps=apps, sources=sources, issues=tuple(issues), warnings=kept)
