"""One GPU as a card: name, vendor and kind, driver, VRAM bar, device nodes with access, kfd."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from paitui.domain.hardware.report import Gpu, Vendor
from paitui.domain.units import format_size

_BAR_CELLS = 24


def gib(n: int) -> str:
    """Bytes as GiB with one decimal."""
    return format_size(n, unit="GiB")


def vram_bar(used: int | None, total: int, cells: int = _BAR_CELLS) -> Text:
    """A fixed-width usage bar with the numbers after it."""
    text = Text()
    if used is None:
        text.append("░" * cells, style="dim")
        text.append(f" {gib(total)}")
        return text
    filled = max(0, min(cells, round(cells * used / total))) if total else 0
    ratio = used / total if total else 0
    style = "red" if ratio > 0.9 else ("yellow" if ratio > 0.7 else "green")
    text.append("█" * filled, style=style)
    text.append("░" * (cells - filled), style="dim")
    text.append(f" {gib(used)} / {gib(total)}")
    return text


def _access(text: Text, label: str, node: str | None, ok: bool) -> None:
    if not node:
        return
    text.append(f"\n{label:<7}", style="dim")
    text.append(node)
    text.append("  ")
    text.append("✔ access" if ok else "✘ no access", style="green" if ok else "bold red")


def render_gpu(gpu: Gpu, kfd_present: bool, kfd_access: bool) -> Text:
    """The card body as rich text."""
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
    if gpu.vram_total:
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


class GpuCard(Static):
    """A bordered card for one GPU."""

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
    """

    def __init__(self, gpu: Gpu, kfd_present: bool, kfd_access: bool, **kwargs: object) -> None:
        super().__init__(render_gpu(gpu, kfd_present, kfd_access), **kwargs)  # type: ignore[arg-type]
        self.gpu = gpu
        self.border_title = gpu.render_node or gpu.card_node or gpu.pci_slot
        self.set_class(gpu.is_display_only, "display-only")
        problem = (gpu.render_node is not None and not gpu.render_access) or (
            gpu.vendor == Vendor.AMD and gpu.driver == "amdgpu" and not kfd_present
        )
        self.set_class(problem, "problem")
