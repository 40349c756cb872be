"""The Catalog screen: every app with its kind, variants and software stack; filter; details."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from paitui.domain.catalog.schema import App, Catalog
from paitui.domain.hardware.report import HardwareReport
from paitui.services.catalog.files import bundled_catalog_path
from paitui.ui.failures import ReportsWorkerFailures
from paitui.ui.host import host_of
from paitui.ui.sections import APP_KEYS
from paitui.ui.widgets.app_detail import render_app_detail, stack_cell, variants_cell
from paitui.ui.widgets.section_bar import SectionBar
from paitui.ui.widgets.taskbar import Taskbar

#: Keys the screen leaves to the app even while the table has focus.
_RESERVED = APP_KEYS | {"/", "r"}


def matches(app: App, query: str) -> bool:
    """Whether every word of the query is in the app's id, name, kind, variants or description."""
    hay = " ".join([app.id, app.name, app.kind.value, app.description, *app.variants]).lower()
    return all(word in hay for word in query.lower().split())


class CatalogScreen(ReportsWorkerFailures, Screen[None]):
    """Browse the app catalog."""

    DEFAULT_CSS = """
    CatalogScreen #catalog-body { height: 1fr; }
    CatalogScreen #catalog-left { width: 3fr; min-width: 36; }
    CatalogScreen #catalog-detail { width: 2fr; border-left: vkey $panel; padding: 0 1; }
    CatalogScreen.narrow #catalog-body { layout: vertical; }
    CatalogScreen.narrow #catalog-left { height: 1fr; width: 100%; }
    CatalogScreen.narrow #catalog-detail { height: 1fr; width: 100%; border-left: none;
        border-top: hkey $panel; }
    CatalogScreen #filter { border: none; height: 1; padding: 0 1; background: $surface; }
    CatalogScreen #filter:focus { background: $boost; }
    CatalogScreen #apps { height: 1fr; }
    CatalogScreen #catalog-issues { color: $warning; padding: 0 1; max-height: 6; display: none; }
    CatalogScreen #catalog-issues.shown { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("r", "reload", "Reload"),
        Binding("enter", "launch", "Launch", show=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._catalog: Catalog | None = None
        self._shown: list[App] = []

    def compose(self) -> ComposeResult:
        yield SectionBar()
        with Horizontal(id="catalog-body"):
            with Vertical(id="catalog-left"):
                yield Input(
                    placeholder="type to filter apps (/)", id="filter", select_on_focus=False
                )
                yield DataTable(id="apps", cursor_type="row", zebra_stripes=True)
                yield Static(id="catalog-issues")
            with VerticalScroll(id="catalog-detail"):
                yield Static("Loading the catalog…", id="detail")
        yield Taskbar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Catalog"
        table = self.query_one("#apps", DataTable)
        # Variants last: some apps have many, and a long cell must not push the stack away.
        table.add_columns("App", "Kind", "Stack", "Variants")
        paitui = host_of(self)
        paitui.catalog_changed.subscribe(self, self._on_catalog)
        paitui.hardware_changed.subscribe(self, self._on_hardware)
        if paitui.catalog is not None:
            self._on_catalog(paitui.catalog)
        table.focus()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < 100, "narrow")

    def _on_catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog
        issues = self.query_one("#catalog-issues", Static)
        if catalog.issues:
            lines = [f"⚠ {len(catalog.issues)} catalog problem(s) — valid apps still load:"]
            lines += [f"  {issue}" for issue in catalog.issues]
            issues.update("\n".join(lines))
        issues.set_class(bool(catalog.issues), "shown")
        self._refill()

    def _on_hardware(self, _report: HardwareReport) -> None:
        self._refill()

    def _refill(self) -> None:
        if self._catalog is None:
            return
        query = self.query_one("#filter", Input).value
        table = self.query_one("#apps", DataTable)
        report = host_of(self).hardware_report
        self._shown = [a for a in self._catalog.sorted_apps() if matches(a, query)]
        table.clear()
        for app in self._shown:
            legacy = app.legacy and "legacy" not in app.name.lower()
            name = f"{app.name} (legacy)" if legacy else app.name
            table.add_row(
                name,
                app.kind.value,
                stack_cell(app, report),
                variants_cell(app, report),
                key=app.id,
            )
        if not self._shown:
            self.query_one("#detail", Static).update(
                f"No app matches {query!r}." if query else "The catalog is empty."
            )
        else:
            self._show_detail(self._shown[min(table.cursor_row, len(self._shown) - 1)])

    def _show_detail(self, app: App) -> None:
        source = self._catalog.sources.get(app.id) if self._catalog else None
        if source is not None and Path(source) == bundled_catalog_path():
            source = "the bundled catalog"
        elif source is not None:
            source = source.replace(str(Path.home()), "~", 1)
        self.query_one("#detail", Static).update(
            render_app_detail(app, host_of(self).hardware_report, source)
        )

    @on(DataTable.RowHighlighted, "#apps")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self._shown):
            self._show_detail(self._shown[event.cursor_row])

    @on(DataTable.RowSelected, "#apps")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on an app opens the launch flow, as on the desktop.
        if 0 <= event.cursor_row < len(self._shown):
            host_of(self).open_launch(self._shown[event.cursor_row].id)

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._refill()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one("#apps", DataTable).focus()

    def on_key(self, event: events.Key) -> None:
        # Typing a letter in the list starts filtering, as in a file manager.
        table = self.query_one("#apps", DataTable)
        char = event.character
        if char is None or not char.isprintable() or char.isspace():
            return
        if table.has_focus and char not in _RESERVED:
            flt = self.query_one("#filter", Input)
            flt.focus()
            flt.insert_text_at_cursor(char)
            event.stop()

    def action_focus_filter(self) -> None:
        """Move the focus to the filter box."""
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        """Empty the filter and return to the list."""
        self.query_one("#filter", Input).value = ""
        self.query_one("#apps", DataTable).focus()

    def action_launch(self) -> None:
        """Open the launch flow for the highlighted app (the table's Enter does the same)."""
        table = self.query_one("#apps", DataTable)
        if 0 <= table.cursor_row < len(self._shown):
            host_of(self).open_launch(self._shown[table.cursor_row].id)

    def action_reload(self) -> None:
        """Read the catalog files again (after editing catalog.d)."""
        host_of(self).load_catalog()
