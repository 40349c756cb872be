"""One GPU as a card: name, vendor and kind, driver, VRAM bar, device nodes with access, kfd,
and (once sampled) its live use with the apps holding memory on it."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from paitui.domain.gpu.usage import GpuUsage
from paitui.domain.hardware.report import Gpu, Vendor
from paitui.ui.widgets.gpu_usage import GpuUsagePanel
from paitui.ui.widgets.vram_bar import gib, vram_bar

__all__ = ["GpuCard", "gib", "render_gpu", "vram_bar"]


def _access(text: Text, label: str, node: str | None, ok: bool) -> None:
    if not node:
        return
    text.append(f"\n{label:<7}", style="dim")
    text.append(node)
    text.append("  ")
    text.append("✔ access" if ok else "✘ no access", style="green" if ok else "bold red")


def render_gpu(gpu: Gpu, kfd_present: bool, kfd_access: bool, live: bool = False) -> Text:
    """The card body as rich text; ``live``: the live panel below shows VRAM, so this does not."""
    text = Text()
    text.append(gpu.name, style="bold")
    kind = "integrated" if gpu.integrated else "discrete"
    if gpu.is_display_only:
        kind = "display only"
    text.append(f"\n{gpu.vendor.value} · {kind}", style="dim")
    if gpu.boot_vga:
        text.append(" ")
        text.append("· boot display", style="dim")
    text.append("\ndriver ", style="dim")
    driver_bad = gpu.driver in (None, "nouveau", "radeon") and not gpu.is_display_only
    text.append(gpu.driver or "none", style="bold red" if driver_bad else "bold")
    text.append("   ")  # leading blanks stay outside styled spans (Textual moves them)
    text.append(f"PCI {gpu.pci_slot} [{gpu.pci_id}]", style="dim")
    if gpu.vram_total and not live:
        text.append("\nVRAM   ", style="dim")
        text.append_text(vram_bar(gpu.vram_used, gpu.vram_total))
    _access(text, "card", gpu.card_node, gpu.card_access)
    _access(text, "render", gpu.render_node, gpu.render_access)
    if gpu.vendor == Vendor.AMD and not gpu.is_display_only:
        text.append("\nkfd    ", style="dim")
        if not kfd_present:
            text.append("/dev/kfd missing: no ROCm", style="bold red")
        else:
            text.append("/dev/kfd  ")
            text.append(
                "✔ access" if kfd_access else "✘ no access",
                style="green" if kfd_access else "bold red",
            )
    if gpu.via:
        text.append(f"\nvia {', '.join(gpu.via)}", style="dim")
    return text


class GpuCard(Vertical):
    """A bordered card for one GPU: the detected facts, then the live use once sampled."""

    DEFAULT_CSS = """
    GpuCard {
        border: round $primary 60%;
        border-title-color: $text;
        padding: 0 1;
        height: auto;
        min-height: 7;
    }
    GpuCard.display-only { border: round $panel; color: $text-muted; }
    GpuCard.problem { border: round $warning; }
    GpuCard > .gpu-body { height: auto; }
    GpuCard > GpuUsagePanel { padding: 0; display: none; }
    GpuCard.live > GpuUsagePanel { display: block; }
    """

    def __init__(self, gpu: Gpu, kfd_present: bool, kfd_access: bool, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.gpu = gpu
        self._kfd = (kfd_present, kfd_access)
        self.body = Static(render_gpu(gpu, kfd_present, kfd_access), classes="gpu-body")
        self.usage_panel = GpuUsagePanel(gpu.pci_slot)
        self.border_title = gpu.render_node or gpu.card_node or gpu.pci_slot
        self.set_class(gpu.is_display_only, "display-only")
        problem = (gpu.render_node is not None and not gpu.render_access) or (
            gpu.vendor == Vendor.AMD and gpu.driver == "amdgpu" and not kfd_present
        )
        self.set_class(problem, "problem")

    def compose(self) -> ComposeResult:
        yield self.body
        yield self.usage_panel

    def show_usage(self, usage: GpuUsage | None, names: Mapping[str, str] | None = None) -> None:
        """Show a live sample (None: this GPU is not in the sample; the detected facts stay)."""
        live = usage is not None
        if live != self.has_class("live"):
            self.set_class(live, "live")
            self.body.update(render_gpu(self.gpu, *self._kfd, live=live))
        if usage is not None:
            self.usage_panel.show(usage, names)
