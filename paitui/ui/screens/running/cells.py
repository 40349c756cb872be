"""The Running screen's table: its columns and what each cell shows (pure: no I/O, no DOM)."""

from __future__ import annotations

from rich.text import Text

from paitui.domain.engine.containers import StatsSample
from paitui.domain.fleet.hosts import HostState, host_cell
from paitui.domain.fleet.status import AppState, AppStatus, format_uptime
from paitui.domain.gpu.usage import GpuSnapshot, vram_cell
from paitui.domain.units import format_size
from paitui.ui.widgets.state_badge import badge_text

COLUMNS = (
    ("App", "app"),
    ("Variant", "variant"),
    ("State", "state"),
    ("Uptime", "uptime"),
    ("Ports", "ports"),
    ("CPU", "cpu"),
    ("Memory", "mem"),
)
#: Shown after "App" when more than one host is configured.
HOST_COLUMN = ("Host", "host")
#: Appended once a GPU sample finds a GPU on this box (a box without one shows no column).
VRAM_COLUMN = ("VRAM", "vram")
#: Columns that change while idle get a fixed width, so an update never re-measures the table.
FIXED_WIDTH = {"uptime": 7, "cpu": 8, "mem": 10, "vram": 6}
#: Below this width the least telling columns go, rather than the table scrolling sideways.
NARROW = 100
#: Dropped at narrow widths when the host or VRAM column needs the room (in this order).
NARROW_DROPS = ("variant", "cpu")
#: States with a container that runs (or is about to): stop applies, stats and logs flow.
STOPPABLE = frozenset(
    {
        AppState.CREATING,
        AppState.STARTING,
        AppState.LOADING,
        AppState.READY,
        AppState.UNHEALTHY,
        AppState.PAUSED,
    }
)

Cell = Text | str


def format_bytes(n: float) -> str:
    """Bytes in binary units, one decimal."""
    return format_size(n, binary=True)


def ports_cell(status: AppStatus) -> Text:
    """``18080→8080`` per published port; a warning sign when published on all interfaces."""
    text = Text()
    seen: set[tuple[int, int]] = set()
    for port in status.ports:
        if (port.host_port, port.container_port) in seen:
            continue
        seen.add((port.host_port, port.container_port))
        if len(text):
            text.append(" ")
        text.append(f"{port.host_port}→{port.container_port}")
        if port.host_ip in ("", "0.0.0.0", "::"):
            text.append(" ⚠", style="bold yellow")
    return text


def plain(value: Cell) -> str:
    """The text of a cell without its styles (to skip updates that change nothing)."""
    return value.plain if isinstance(value, Text) else str(value)


def stats_cells(sample: StatsSample | None) -> dict[str, Cell]:
    """The CPU and memory cells of a sample (empty without one)."""
    if sample is None:
        return {"cpu": "", "mem": ""}
    return {"cpu": f"{sample.cpu_percent:.1f} %", "mem": format_bytes(sample.memory_bytes)}


def columns(host: bool, vram: bool, width: int) -> list[tuple[str, str]]:
    """The table's columns, in order: HOST after App when several hosts are followed, VRAM
    last once a GPU is seen; below ``NARROW`` columns the extra ones displace Variant and CPU."""
    cols = list(COLUMNS)
    if host:
        cols.insert(1, HOST_COLUMN)
    if vram:
        cols.append(VRAM_COLUMN)
    extra = int(host) + int(vram)
    if width < NARROW:
        drop = set(NARROW_DROPS[:extra])
        cols = [c for c in cols if c[1] not in drop]
    return cols


def gpu_cell(status: AppStatus, snapshot: GpuSnapshot | None) -> str:
    """The VRAM cell: what the app's container holds now (``-`` when it is not running)."""
    if status.state not in STOPPABLE or not status.container_id:
        return "-" if status.state != AppState.UNKNOWN else "?"
    if snapshot is None:
        return ""
    return vram_cell(snapshot.app_usage(status.container_id))


def host_column_cell(host: str | None, state: HostState | None) -> Text:
    """The HOST cell: the host's name, in red with ``(unreachable)`` while it is away."""
    if host is None:
        return Text("")
    away = state is not None and state.reachable is False
    return Text(host_cell(host, state), style="red" if away else "")


def row_cells(
    status: AppStatus, name: str, sample: StatsSample | None, now: float
) -> dict[str, Cell]:
    """Every cell of an app's row, by column key (``name``: the app's display name);
    ``sample`` only for the selected app."""
    return {
        "app": Text(name),
        "variant": status.variant or "",
        "state": badge_text(status.state, status.exit_code),
        "uptime": format_uptime(status.uptime(now)),
        "ports": ports_cell(status),
        **stats_cells(sample),
    }
