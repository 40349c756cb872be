"""The Models screen: search the hub, pick files, watch the download queue, manage the library.

Hub calls, enqueueing and deletes run in thread workers and report back as messages. The
download manager lives in ``Services``, so downloads go on while other screens are shown; its
progress reaches this screen as ``DownloadsChanged`` messages that coalesce when they flood.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Select
from textual.widgets.data_table import CellDoesNotExist, ColumnKey

from paitui.domain.models.holders import only_elsewhere, where_cell
from paitui.domain.models.kinds import ModelKind
from paitui.domain.models.records import (
    Download,
    DownloadState,
    InstalledModel,
    ModelSearchResult,
    RepoFile,
    RepoInfo,
    human_size,
    repo_facts,
    vram_fit,
)
from paitui.ui.failures import ReportsWorkerFailures
from paitui.ui.host import host_of
from paitui.ui.screens.confirm import ConfirmDialog
from paitui.ui.sections import APP_KEYS
from paitui.ui.widgets.download_queue import DownloadQueue, DownloadRow
from paitui.ui.widgets.section_bar import SectionBar
from paitui.ui.widgets.taskbar import Taskbar

if TYPE_CHECKING:
    from paitui.services.models.hub import SearchSort
    from paitui.services.models.will_fit import GpuFreeSource
    from paitui.services.registry import Services

from paitui.ui.screens.launch.fit_panel import FitPanel, FitTarget
from paitui.ui.screens.models.fit_hint import file_target, library_target, repo_target
from paitui.ui.screens.models.kind_picker import KindPicker
from paitui.ui.screens.models.library import LibraryRow, LibraryTable, apps_cell, kind_cell, middle

_FORMATS: list[tuple[str, str]] = [
    ("any format", ""),
    ("GGUF", "gguf"),
    ("diffusers", "diffusers"),
    ("safetensors", "safetensors"),
]
#: Keys the lists leave to the app and the screen (sections, help, quit, search).
_RESERVED = APP_KEYS | {"/"}
_SORTS: list[tuple[str, str]] = [("most downloaded", "downloads"), ("most liked", "likes")]


#: Seconds one box may take to list its store for the library's "Where" column.
HOLDERS_TIMEOUT_S = 15.0


class ModelsScreen(ReportsWorkerFailures, Screen[None]):
    """Search the Hugging Face Hub, download model files, and see what is installed."""

    DEFAULT_CSS = """
    ModelsScreen #models-search-bar { height: 1; }
    ModelsScreen #query { width: 1fr; border: none; height: 1; padding: 0 1; background: $surface; }
    ModelsScreen #query:focus { background: $boost; }
    ModelsScreen Select { width: 22; height: 1; }
    ModelsScreen Select > SelectCurrent { border: none; height: 1; padding: 0 1; }
    ModelsScreen #models-browse { height: 1fr; }
    ModelsScreen #results { width: 1fr; }
    ModelsScreen #files-pane { width: 1fr; border-left: vkey $panel; }
    ModelsScreen #files { height: 1fr; }
    ModelsScreen #fit { margin-top: 0; padding: 0 1; max-height: 4; border-top: hkey $panel; }
    ModelsScreen #fit #fit-offers { max-height: 2; }
    ModelsScreen #fit.-short { border-top: none; max-height: 2; }
    ModelsScreen #fit.-short #fit-offers { display: none; }
    ModelsScreen #models-bottom { height: auto; max-height: 16; border-top: hkey $panel; }
    ModelsScreen #library-pane { width: 1fr; border-left: vkey $panel; }
    ModelsScreen #queue-pane { width: 1fr; }
    ModelsScreen #library { height: auto; max-height: 12; }
    ModelsScreen .pane-title { text-style: bold; color: $primary; padding: 0 1; }
    ModelsScreen #status { color: $text-muted; padding: 0 1; height: 1; }
    ModelsScreen #status.-error { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search", key_display="/"),
        Binding("escape", "leave_search", "Results", show=False),
        Binding("ctrl+l", "focus_library", "Library"),
        Binding("delete", "delete_selected", "Delete (d)", show=False),
    ]

    # --- messages from workers and the download manager ---

    @dataclass
    class SearchDone(Message):
        """Search results arrived (or the search failed)."""

        results: list[ModelSearchResult]
        error: str | None = None

    @dataclass
    class FilesLoaded(Message):
        """A repo's file list arrived (or could not be read)."""

        repo_id: str
        info: RepoInfo | None
        error: str | None = None

    @dataclass
    class DownloadsChanged(Message):
        """The download queue changed; a newer one replaces an older one still waiting."""

        downloads: tuple[Download, ...]

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ModelsScreen.DownloadsChanged)

    @dataclass
    class LibraryLoaded(Message):
        """The installed files, with which apps can use them."""

        rows: list[LibraryRow]
        total: int

    @dataclass
    class HoldersLoaded(Message):
        """What the other (ssh://) boxes hold: repo ids per box, and boxes that did not say."""

        held: dict[str, frozenset[str]]
        unknown: list[str]

    @dataclass
    class Notice(Message):
        """Something to tell the user in the status line (errors in red)."""

        text: str
        error: bool = False

    def __init__(self, gpu_source: GpuFreeSource | None = None) -> None:
        """``gpu_source``: free GPU memory for "will it fit?" (None: this machine's)."""
        super().__init__()
        self.gpu_source = gpu_source
        self._results: list[ModelSearchResult] = []
        self._info: RepoInfo | None = None
        self._library: list[LibraryRow] = []
        self._listener: Callable[[Download], None] | None = None
        self._store_column: ColumnKey | None = None
        self._where_column: ColumnKey | None = None
        self._holders: tuple[dict[str, frozenset[str]], list[str]] = ({}, [])
        self._library_total = 0
        self._seen_done: set[str] = set()

    # --- layout ---

    def compose(self) -> ComposeResult:
        yield SectionBar()
        with Horizontal(id="models-search-bar"):
            yield Input(
                placeholder="search the Hub (/)",
                id="query",
                select_on_focus=False,
            )
            yield Select(_FORMATS, value="", allow_blank=False, id="format")
            yield Select(_SORTS, value="downloads", allow_blank=False, id="sort")
        yield Label("", id="status")
        with Horizontal(id="models-browse"):
            yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
            with Vertical(id="files-pane"):
                yield Label("Files", classes="pane-title", id="files-title")
                yield DataTable(id="files", cursor_type="row", zebra_stripes=True)
        # Full width between the lists: one line at 80 columns.
        yield FitPanel(self.gpu_source, start_note=False, take_hint=False, id="fit")
        with Horizontal(id="models-bottom"):
            with Vertical(id="queue-pane"):
                yield Label("Downloads", classes="pane-title")
                yield DownloadQueue(id="queue")
            with Vertical(id="library-pane"):
                yield Label("Library", classes="pane-title", id="library-title")
                yield LibraryTable(id="library", cursor_type="row", zebra_stripes=True)
        yield Taskbar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Models"
        self.query_one("#results", DataTable).add_columns("Repo", "Downloads", "Likes", "Size")
        self._store_column = self.query_one("#files", DataTable).add_columns(
            "File", "Size", "VRAM", "Store"
        )[3]
        _, _, _, _, self._where_column, _ = self.query_one("#library", DataTable).add_columns(
            "Model file", "Size", "Type", "Apps", "Where", "Repo"
        )
        self._attach_downloads()
        self.load_library()
        self.load_holders()
        self.query_one("#results", DataTable).focus()

    @work(
        exclusive=True, name="follow the download queue", group="models-attach", exit_on_error=False
    )
    async def _attach_downloads(self) -> None:
        """Follow the download queue; building it imports the HTTP stack, so off the loop."""
        manager = await asyncio.to_thread(lambda: self._services().downloads)
        self._listener = self._on_download
        manager.add_listener(self._listener)
        self.query_one(DownloadQueue).update_downloads(manager.snapshot())

    def on_key(self, event: events.Key) -> None:
        # In the library "d" deletes; in the lists typing starts a search (as in the Catalog).
        focused = self.focused
        char = event.character
        if focused is None or not char or not char.isprintable() or char.isspace():
            return
        if focused.id == "library" and char == "d":
            self.action_delete_selected()
            event.stop()
        elif focused.id in ("results", "files") and char not in _RESERVED:
            query = self.query_one("#query", Input)
            query.focus()
            query.insert_text_at_cursor(char)
            event.stop()

    def on_unmount(self) -> None:
        if self._listener is not None:
            self._services().downloads.remove_listener(self._listener)

    def _services(self) -> Services:
        return host_of(self).services

    def _vram(self) -> int | None:
        report = host_of(self).hardware_report
        return report.max_vram() if report is not None else None

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#status", Label)
        status.update(text)
        status.set_class(error, "-error")

    # --- search ---

    @on(Input.Submitted, "#query")
    def _search_submitted(self) -> None:
        self.run_search()

    @on(Select.Changed)
    def _filters_changed(self) -> None:
        if self.query_one("#query", Input).value.strip():
            self.run_search()

    def run_search(self) -> None:
        """Search with the current text, format filter and sort."""
        query = self.query_one("#query", Input).value.strip()
        fmt = self.query_one("#format", Select).value
        sort = self.query_one("#sort", Select).value
        self._status(f"searching for {query!r}…")
        order: SearchSort = "likes" if sort == "likes" else "downloads"
        self._search(query, [fmt] if isinstance(fmt, str) and fmt else [], order)

    @work(
        thread=True,
        exclusive=True,
        name="search the Hub",
        group="models-search",
        exit_on_error=False,
    )
    def _search(self, query: str, formats: list[str], sort: SearchSort) -> None:
        from paitui.services.models.hub import HubError

        try:
            results = self._services().hub.search(query, formats=formats, sort=sort)
        except HubError as exc:
            self.post_message(self.SearchDone([], str(exc)))
            return
        self.post_message(self.SearchDone(results))

    def on_models_screen_search_done(self, message: SearchDone) -> None:
        table = self.query_one("#results", DataTable)
        table.clear()
        self._results = message.results
        if message.error:
            self._status(message.error, error=True)
            return
        for r in message.results:
            name = f"{r.repo_id} (gated)" if r.gated else r.repo_id
            cells = (name, f"{r.downloads:,}", f"{r.likes:,}", human_size(r.size))
            table.add_row(*cells, key=r.repo_id)
        self._status(f"{len(message.results)} repos" if message.results else "no repos found")
        if message.results:
            table.focus()

    # --- files of a repo ---

    @on(DataTable.RowSelected, "#results")
    def _repo_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self._results):
            repo_id = self._results[event.cursor_row].repo_id
            self.query_one("#files-title", Label).update(f"Files of {repo_id} (loading…)")
            self._load_files(repo_id)

    @work(
        thread=True,
        exclusive=True,
        name="read the repo's files",
        group="models-files",
        exit_on_error=False,
    )
    def _load_files(self, repo_id: str) -> None:
        from paitui.services.models.hub import HubError

        try:
            info = self._services().hub.repo_info(repo_id)
        except HubError as exc:
            self.post_message(self.FilesLoaded(repo_id, None, str(exc)))
            return
        self.post_message(self.FilesLoaded(repo_id, info))

    def on_models_screen_files_loaded(self, message: FilesLoaded) -> None:
        title = self.query_one("#files-title", Label)
        table = self.query_one("#files", DataTable)
        table.clear()
        if message.info is None:
            title.update(f"Files of {message.repo_id}")
            self._status(message.error or "cannot read the repo", error=True)
            self._info = None
            return
        self._info = message.info
        vram = self._vram()
        installed = self._marks(message.info.repo_id)
        for f in self._sorted_files(message.info.files):
            fit = vram_fit(f.size, vram) if f.path.endswith(".gguf") else None
            mark = installed.get(f.path, "")
            table.add_row(f.path, human_size(f.size), fit or "", mark, key=f.path)
        total = human_size(message.info.total_size)
        title.update(f"Files of {message.info.repo_id} ({total}) — Enter downloads")
        if message.info.skipped:
            n = len(message.info.skipped)
            self._status(f"{n} file(s) with names unsafe as paths were left out", error=True)
        table.focus()

    @staticmethod
    def _sorted_files(files: Sequence[RepoFile]) -> list[RepoFile]:
        # Model files first, biggest first: the choice people make is among the weights.
        def key(f: RepoFile) -> tuple[int, int, str]:
            return (0 if f.lfs else 1, -(f.size or 0), f.path)

        return sorted(files, key=key)

    @on(DataTable.RowSelected, "#files")
    def _file_selected(self, event: DataTable.RowSelected) -> None:
        if self._info is None or event.row_key.value is None:
            return
        f = self._info.file(str(event.row_key.value))
        if f is not None:
            self._enqueue(self._info.repo_id, self._info.commit, [f])

    @work(thread=True, name="queue the download", group="models-enqueue", exit_on_error=False)
    def _enqueue(self, repo_id: str, commit: str, files: list[RepoFile]) -> None:
        from paitui.domain.models.records import UnsafePathError
        from paitui.services.models.downloads import DownloadError

        services = self._services()
        if self._info is not None and self._info.repo_id == repo_id:
            services.model_store.remember_repo(repo_id, repo_facts(self._info))  # for the kind
        try:
            services.downloads.enqueue(repo_id, commit, files)
        except (DownloadError, UnsafePathError) as exc:
            self.post_message(self.Notice(str(exc), error=True))
            return
        size = human_size(sum(f.size or 0 for f in files))
        self.post_message(self.Notice(f"queued {', '.join(f.path for f in files)} ({size})"))

    def on_models_screen_notice(self, message: Notice) -> None:
        self._status(message.text, message.error)
        if message.error:
            self.notify(message.text, severity="error", timeout=8)

    # --- the queue ---

    def _on_download(self, _download: Download) -> None:
        """Called from download threads: hand a snapshot of the queue to the event loop."""
        self.post_message(self.DownloadsChanged(tuple(self._services().downloads.snapshot())))

    def on_models_screen_downloads_changed(self, message: DownloadsChanged) -> None:
        self.query_one(DownloadQueue).update_downloads(message.downloads)
        # News for whatever section is on screen: this screen lives on while others show.
        for d in message.downloads:
            if d.id in self._seen_done or not d.state.finished:
                continue
            self._seen_done.add(d.id)
            if d.state == DownloadState.DONE:
                self.notify(f"{d.repo_id}/{d.file.path} is in the library.", title="Downloaded")
                self.load_library()
            elif d.state == DownloadState.FAILED:
                self.notify(
                    f"{d.repo_id}/{d.file.path}: {d.error}",
                    title="Download failed",
                    severity="error",
                    timeout=12,
                )

    @on(DownloadRow.Requested)
    def _queue_action(self, event: DownloadRow.Requested) -> None:
        manager = self._services().downloads
        # pause/cancel/resume return at once (they only signal the download thread).
        if event.action == "pause":
            manager.pause(event.download_id)
        elif event.action == "resume":
            manager.resume(event.download_id)
        elif event.action == "cancel":
            manager.cancel(event.download_id)

    # --- the library ---

    @work(
        thread=True,
        exclusive=True,
        name="read the library",
        group="models-library",
        exit_on_error=False,
    )
    def load_library(self) -> None:
        """Read the store's index and the user's HF cache (and the catalog for the apps)."""
        from paitui.services.models.library import library_files, library_models

        services = self._services()
        models = library_models(services.model_store)
        catalog = host_of(self).catalog or services.catalog
        rows = [LibraryRow(f.model, f.apps) for f in library_files(catalog, models)]
        rows.sort(key=lambda r: r.model.read_only)  # the store's own files first
        total = sum(m.size for m in models if not m.read_only)
        self.post_message(self.LibraryLoaded(rows, total))

    @work(
        thread=True,
        exclusive=True,
        name="ask the other boxes what they hold",
        group="models-holders",
        exit_on_error=False,
    )
    def load_holders(self) -> None:
        """Each ssh:// box's store (its own paitui over SSH, bounded); none: nothing is asked."""
        from paitui.services.models.remote import RemoteModelsError, remote_store

        boxes = [h for h in self._services().hosts.hosts if h.scheme == "ssh" and h.remote]
        if not boxes:
            return
        held: dict[str, frozenset[str]] = {}
        unknown: list[str] = []
        for spec in boxes:
            try:
                held[spec.name] = frozenset(remote_store(spec, timeout=HOLDERS_TIMEOUT_S).repo_ids)
            except RemoteModelsError:
                unknown.append(spec.name)
        self.post_message(self.HoldersLoaded(held, unknown))

    def on_models_screen_holders_loaded(self, message: HoldersLoaded) -> None:
        self._holders = (message.held, message.unknown)
        table = self.query_one("#library", DataTable)
        if self._where_column is not None:
            for row in self._library:
                with contextlib.suppress(CellDoesNotExist):  # the list may be reloading
                    table.update_cell(
                        row.key, self._where_column, self._where(row), update_width=True
                    )
        self._library_title()

    def _library_title(self) -> None:
        rows = self._library
        cached = sum(1 for r in rows if r.model.read_only)
        in_cache = f" (+{cached} in the HF cache, read-only)" if cached else ""
        elsewhere = only_elsewhere((r.model.repo_id for r in rows), self._holders[0])
        away = "".join(f"; {host} holds {n} more" for host, n in elsewhere.items())
        self.query_one("#library-title", Label).update(
            f"Library: {len(rows) - cached} files, {human_size(self._library_total)}"
            f"{in_cache}{away} — d deletes, k sets the type"
        )

    def _where(self, row: LibraryRow) -> str:
        held, unknown = self._holders
        place = "HF cache" if row.model.read_only else "store"
        return where_cell(place, row.model.repo_id, held, unknown)

    def on_models_screen_library_loaded(self, message: LibraryLoaded) -> None:
        self._library = message.rows
        table = self.query_one("#library", DataTable)
        table.clear()
        for row in message.rows:
            m = row.model
            table.add_row(
                middle(m.path, 36),
                human_size(m.size),
                kind_cell(m),
                apps_cell(row.apps),
                self._where(row),
                m.repo_id,
                key=row.key,
            )
        self._library_total = message.total
        self._library_title()
        column = self._store_column
        if self._info is not None and column is not None:  # keep the "installed" marks current
            files = self.query_one("#files", DataTable)
            repo_id = self._info.repo_id
            installed = self._marks(repo_id)
            for f in self._info.files:
                with contextlib.suppress(CellDoesNotExist):  # the list may be reloading
                    files.update_cell(f.path, column, installed.get(f.path, ""), update_width=True)

    # --- will it fit? (the highlighted row of whichever list has the focus) ---

    def on_resize(self, event: events.Resize) -> None:
        # A short terminal keeps the lists: the verdict on one line, no offers.
        self.query_one(FitPanel).set_class(event.size.height < 40, "-short")

    def _fit(self, target: FitTarget | None) -> None:
        report = host_of(self).hardware_report
        if report is None or not any(not g.is_display_only for g in report.gpus):
            target = None  # no GPU to judge against: the VRAM column says what is known
        self.query_one(FitPanel).check(target)

    @on(DataTable.RowHighlighted, "#files")
    def _file_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self._info is not None and event.row_key.value is not None:
            self._fit(file_target(self._info, str(event.row_key.value)))

    @on(DataTable.RowHighlighted, "#results")
    def _result_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._fit(repo_target(str(event.row_key.value)))

    @on(DataTable.RowHighlighted, "#library")
    def _library_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.has_focus and 0 <= event.cursor_row < len(self._library):
            self._fit(library_target(self._library[event.cursor_row].model))

    @on(FitPanel.OfferChosen)
    def _fit_offer(self, event: FitPanel.OfferChosen) -> None:
        """A smaller quant of the open repo: put the cursor on it (Enter there downloads it)."""
        target = self.query_one(FitPanel).target
        if event.offer.kind != "quant" or self._info is None or target is None:
            return
        if target.repo != self._info.repo_id:
            return  # a search result's hint: open the repo first
        table = self.query_one("#files", DataTable)
        with contextlib.suppress(KeyError):
            table.move_cursor(row=table.get_row_index(event.offer.value))
            table.focus()

    def _marks(self, repo_id: str) -> dict[str, str]:
        """``installed`` or ``in HF cache`` per file of a repo, from the library."""
        marks: dict[str, str] = {}
        for r in sorted(self._library, key=lambda r: not r.model.read_only):  # the store wins
            if r.model.repo_id == repo_id:
                marks[r.model.path] = "in HF cache" if r.model.read_only else "installed"
        return marks

    def _selected_row(self) -> LibraryRow | None:
        table = self.query_one("#library", DataTable)
        if not table.has_focus or not self._library:
            return None
        return self._library[min(table.cursor_row, len(self._library) - 1)]

    def action_change_kind(self) -> None:
        """Choose the type of the library entry under the cursor (or automatic again)."""
        row = self._selected_row()
        if row is None:
            return
        m = row.model

        def picked(kind: str | None) -> None:
            if kind is not None:
                self._set_kind(m, kind or None)

        self.app.push_screen(KindPicker(f"Type of {m.repo_id}/{m.path}", m), picked)

    @work(thread=True, name="set the model's type", group="models-kind", exit_on_error=False)
    def _set_kind(self, model: InstalledModel, kind: str | None) -> None:
        try:
            self._services().model_store.set_user_kind(
                model.repo_id, model.path, kind, hf_cache=model.read_only
            )
        except (KeyError, OSError, ValueError) as exc:
            self.post_message(self.Notice(f"cannot set the type: {exc}", error=True))
            return
        label = ModelKind(kind).label if kind else "automatic"
        self.post_message(self.Notice(f"{model.repo_id}/{model.path}: type {label}"))
        self.app.call_from_thread(self.load_library)

    def action_delete_selected(self) -> None:
        """Delete the library entry under the cursor, after a confirmation."""
        row = self._selected_row()
        if row is None:
            return
        m = row.model
        if m.read_only:
            self._status(
                f"{m.repo_id}/{m.path} is in your Hugging Face cache, which paitui only reads: "
                "delete it with huggingface_hub (hf cache delete)",
                error=True,
            )
            return
        question = f"Delete {m.repo_id}/{m.path} ({human_size(m.size)}) from the store?"

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(m.repo_id, m.path)

        dialog = ConfirmDialog("Delete model", question, "Delete", danger=True)
        self.app.push_screen(dialog, answered)

    @work(thread=True, name="delete the model", group="models-delete", exit_on_error=False)
    def _delete(self, repo_id: str, path: str) -> None:
        gone = self._services().model_store.remove(repo_id, path)
        self.post_message(self.Notice(f"deleted {repo_id}/{path}" if gone else "nothing deleted"))
        self.app.call_from_thread(self.load_library)

    # --- focus actions ---

    def action_focus_search(self) -> None:
        """Move to the search box."""
        self.query_one("#query", Input).focus()

    def action_leave_search(self) -> None:
        """Leave the search box for the results (section keys work again there)."""
        self.query_one("#results", DataTable).focus()

    def action_focus_library(self) -> None:
        """Move to the library."""
        self.query_one("#library", DataTable).focus()
