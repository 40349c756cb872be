"""The non-GPU parts of the Hardware screen: accelerator verdicts with the ranking, host facts,
and the list of findings with their fixes."""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from paitui.domain.hardware.report import Finding, HardwareReport, Severity
from paitui.ui.widgets.vram_bar import gib

_SEVERITY_STYLE = {
    Severity.ERROR: ("✘", "bold red"),
    Severity.WARNING: ("!", "bold yellow"),
    Severity.INFO: ("i", "bold blue"),
}


def render_accels(report: HardwareReport) -> Group:
    """Ranking line, then one row per accelerator kind with its reasons (wrapped, indented)."""
    head = Text()
    head.append("Best first: ", style="dim")
    for i, accel in enumerate(report.ranking):
        if i:
            head.append(" ")  # leading blanks stay outside styled spans (Textual moves them)
            head.append("> ", style="dim")
        head.append(accel.value, style="bold green" if i == 0 else "bold")
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    for status in report.accels:
        name = Text()
        name.append("✔ " if status.usable else "✘ ", style="green" if status.usable else "red")
        name.append(status.accel.value, style="bold" if status.usable else "dim")
        table.add_row(name, Text("; ".join(status.reasons), style="" if status.usable else "dim"))
    return Group(head, table)


def accels_plain(report: HardwareReport) -> str:
    """The accelerator panel as plain text (for tests and logs)."""
    console = Console(width=200, color_system=None, file=io.StringIO())
    with console.capture() as capture:
        console.print(render_accels(report))
    return capture.get()


def render_host(report: HardwareReport) -> Text:
    """Kernel, user and groups, Docker, WSL2, disk, discovery source."""
    text = Text()
    text.append("kernel ", style="dim")
    text.append(report.kernel or "?")
    text.append("   ")
    text.append("user ", style="dim")
    text.append(f"{report.user or '?'} ({report.uid})")
    for name, gid, member in (
        ("render", report.render_gid, report.user_in_render),
        ("video", report.video_gid, report.user_in_video),
    ):
        text.append(f"\n{name:<7}", style="dim")
        if gid is None:
            text.append("no such group", style="yellow")
        else:
            text.append(f"gid {gid}  ")
            style = "green" if member else "yellow"
            text.append("member" if member else "not a member", style=style)
    text.append("\nengine ", style="dim")
    d = report.docker
    if d is None:
        text.append("not checked", style="dim")
    else:
        text.append(d.summary(), style="" if d.reachable else "bold red")
    if report.wsl2:
        text.append("\nWSL2   ", style="dim")
        text.append("yes (/dev/dxg)")
    if report.nvidia_nodes:
        text.append("\nnvidia ", style="dim")
        text.append(" ".join(n.rsplit("/", 1)[-1] for n in report.nvidia_nodes))
    if report.vulkan_icds:
        text.append("\nvulkan ", style="dim")
        text.append(" ".join(i.rsplit("/", 1)[-1] for i in report.vulkan_icds))
    if report.models_free_bytes is not None and report.models_dir:
        text.append("\nmodels ", style="dim")
        text.append(f"{gib(report.models_free_bytes)} free in {report.models_dir}")
    text.append("\nsource ", style="dim")
    text.append(report.source)
    return text


def finding_prompt(finding: Finding) -> Text:
    """One finding: severity mark, message, and the fix on its own line."""
    mark, style = _SEVERITY_STYLE[finding.severity]
    text = Text()
    text.append(f"{mark} ", style=style)
    text.append(finding.message)
    if finding.fix:
        text.append("\n  ")  # blanks outside the styled span (Textual moves them)
        text.append("fix: ", style="dim")
        text.append(finding.fix, style="bold")
    return text


class FindingList(OptionList):
    """Findings, worst first; the highlighted one's fix is what the screen copies."""

    DEFAULT_CSS = """
    FindingList { height: auto; max-height: 100%; border: none; padding: 0; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.findings: tuple[Finding, ...] = ()

    def show(self, findings: tuple[Finding, ...]) -> None:
        """Replace the list, keeping the highlight where it was if possible."""
        keep = self.highlighted
        self.findings = findings
        self.clear_options()
        if not findings:
            self.add_option(Option(Text("✔ nothing to fix", style="green"), disabled=True))
            return
        self.add_options(Option(finding_prompt(f)) for f in findings)
        self.highlighted = min(keep or 0, len(findings) - 1)

    @property
    def selected_finding(self) -> Finding | None:
        """The highlighted finding, if any."""
        index = self.highlighted
        if index is None or not self.findings or index >= len(self.findings):
            return None
        return self.findings[index]


class SectionText(Static):
    """A block of rich text under a section title."""

    DEFAULT_CSS = "SectionText { padding: 0 1; height: auto; }"
