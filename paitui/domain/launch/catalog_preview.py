"""What the Desktop and the Running screen show of the catalog before it is read: a preview.

Reading the catalog means importing pydantic and building the schema (most of the time from
the first frame to the first list of apps). The preview holds only what the first draw needs
(id, name, kind and default variant of each app, in display order), is saved after each read,
and is used at the next start only when the catalog files are byte for byte the same (the
``fingerprint``). The real catalog replaces it moments later.

Pure: text in, text out; the files are ``services.catalog.preview_cache``'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paitui.domain.catalog.schema import Catalog

#: Bumped whenever what a preview holds, or how it is made, changes.
FORMAT = 1
#: Bounds for a file that may have been damaged or written by someone else.
MAX_APPS = 5000
MAX_TEXT = 200


@dataclass(frozen=True)
class PreviewApp:
    """One app as its tile and its Running row first show it."""

    app_id: str
    name: str
    kind: str
    variant: str | None  # the default variant before any hardware is known; None: none


@dataclass(frozen=True)
class CatalogPreview:
    """The apps of one set of catalog files, in display order."""

    fingerprint: str
    apps: tuple[PreviewApp, ...]

    def name_of(self, app_id: str) -> str | None:
        """The app's display name, or None when the preview does not have it."""
        return next((a.name for a in self.apps if a.app_id == app_id), None)


def preview_of(catalog: Catalog, fingerprint: str) -> CatalogPreview:
    """The preview of a read catalog (the tiles' order and default variants, no hardware)."""
    from paitui.domain.launch.variant_fit import best_variant

    apps = tuple(
        PreviewApp(app.id, app.name, app.kind.value, best_variant(app, None))
        for app in catalog.sorted_apps()
    )
    return CatalogPreview(fingerprint, apps)


def preview_to_json(preview: CatalogPreview) -> str:
    """The preview as the text of its file."""
    return json.dumps(
        {
            "format": FORMAT,
            "fingerprint": preview.fingerprint,
            "apps": [[a.app_id, a.name, a.kind, a.variant] for a in preview.apps],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _text(value: object, *, optional: bool = False) -> bool:
    if value is None:
        return optional
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT and value.isprintable()


def preview_from_json(text: str, fingerprint: str) -> CatalogPreview | None:
    """The preview in ``text`` if it is well formed and made from these very files, else None."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    if data.get("fingerprint") != fingerprint:
        return None
    rows = data.get("apps")
    if not isinstance(rows, list) or len(rows) > MAX_APPS:
        return None
    apps: list[PreviewApp] = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 4):
            return None
        app_id, name, kind, variant = row
        if not (_text(app_id) and _text(name) and _text(kind) and _text(variant, optional=True)):
            return None
        apps.append(PreviewApp(app_id, name, kind, variant))
    if len({a.app_id for a in apps}) != len(apps):
        return None
    return CatalogPreview(fingerprint, tuple(apps))
