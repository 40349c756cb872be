"""The Running screen's detail pane: one app's state, links, SSH tunnel, warnings, crash logs.

Pure: the text is made from the status, the catalog entry and the links; no I/O, no DOM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

from paitui.domain.fleet.links import AppLinks
from paitui.domain.fleet.status import AppState, AppStatus, format_uptime
from paitui.domain.gpu.usage import GpuSnapshot
from paitui.domain.gpu.usage import format_bytes as format_vram
from paitui.ui.screens.running.cells import STOPPABLE, format_bytes
from paitui.ui.widgets.state_badge import badge_text

if TYPE_CHECKING:  # the schema (pydantic) loads with the catalog, not with the screen
    from paitui.domain.catalog.schema import App


def render_detail(
    status: AppStatus, app: App | None, links: AppLinks, now: float, remote: str | None = None
) -> Text:
    """The detail pane's text: state, links (OSC 8), the SSH tunnel, warnings, crash logs;
    ``remote``: the other host the app runs on (its tunnel is run here, not on a laptop)."""
    text = Text()
    text.append(app.name if app is not None else status.app_id, style="bold")
    text.append(f"  {status.app_id}")
    if status.variant:
        text.append(f" · {status.variant}")
    text.append("\n")
    if status.image:
        text.append(status.image + "\n", style="dim")
    text.append_text(badge_text(status.state, status.exit_code))
    if status.detail:
        text.append(f"  {status.detail}", style="dim")
    if status.probe is not None and status.probed:
        text.append(f" in {status.probe.latency * 1000:.0f} ms", style="dim")
    uptime = format_uptime(status.uptime(now))
    if uptime:
        text.append(f"  · up {uptime}")
    text.append("\n")
    if status.pull is not None and status.state == AppState.PULLING:
        pull = status.pull
        if pull.total:
            text.append(f"pulling {format_bytes(pull.downloaded)} of {format_bytes(pull.total)}\n")
    _links(text, links, remote)
    if status.crash_restarts and status.state != AppState.READY:
        text.append(
            f"restarted {status.crash_restarts}× by the engine after crashes\n", style="red"
        )
    if status.last_logs and status.state != AppState.READY:
        text.append("\nLast log lines before the crash\n", style="bold red")
        for line in status.last_logs[-10:]:
            text.append(f"  {line}\n", style="red")
    return text


def _links(text: Text, links: AppLinks, remote: str | None = None) -> None:
    if links.links:
        text.append("\nLinks\n", style="bold")
        width = max(len(link.label) for link in links.links)
        for link in links.links:
            text.append(f"  {link.label:<{width}}  ")
            if link.kind == "tcp":
                text.append(link.url)
            else:
                text.append(link.url, style=Style(link=link.url, underline=True))
            text.append("\n")
    if links.ssh_tunnel:
        if remote is not None:
            head = f"\nOn {remote}: run this here, then the links work here\n"
        else:
            head = "\nOver SSH: run this on your laptop, then open the links there\n"
        text.append(head, style="bold")
        text.append(f"  {links.ssh_tunnel}\n", style="bold cyan")
        text.append("  (t copies it)\n", style="dim")
    for warning in links.warnings:
        text.append(f"\n⚠ {warning}\n", style="yellow")


def gpu_detail(status: AppStatus, snapshot: GpuSnapshot | None, error: str = "") -> Text:
    """The detail pane's GPU part: what the app holds on each GPU, or why it is unknown."""
    text = Text("\nGPU\n", style="bold")
    if error:
        text.append(f"  ? {error}\n", style="yellow")
        return text
    cid = status.container_id
    if cid is None or status.state not in STOPPABLE:
        text.append("  not running: holds no GPU memory\n", style="dim")
        return text
    if snapshot is None:
        text.append("  sampling…\n", style="dim")
        return text
    usage = snapshot.app_usage(cid)
    if usage is None:
        why = next(iter(snapshot.notes), "some of its processes could not be read")
        text.append(f"  ? {why}\n", style="yellow")
        return text
    if not usage:
        text.append("  holds no GPU memory\n", style="dim")
    for a in usage:
        gpu = snapshot.gpu(a.gpu)
        line = f"  {a.gpu}  {format_vram(a.vram_bytes)}"
        if gpu is not None and gpu.memory_total:
            line += f" of {format_vram(gpu.memory_total)}"
        pids = ", ".join(str(p) for p in a.pids[:4])
        text.append(line, style="bold")
        text.append(f"  ({a.source}, pid {pids})\n", style="dim")
        if a.vram_bytes is None:
            text.append(f"  ? {a.source} gives no memory figure for it\n", style="yellow")
    return text
