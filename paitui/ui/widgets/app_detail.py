"""Rendering of catalog apps as rich text: the variants cell and the detail pane."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from paitui.domain.catalog.schema import App, accel_of_variant
from paitui.domain.catalog.tags import UNVERIFIED_DATE
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.variant_fit import best_variant


def variants_cell(app: App, report: HardwareReport | None) -> Text:
    """Variant names; the one that fits best marked ★, ones that cannot run here dimmed,
    unverified ones marked ?."""
    best = best_variant(app, report) if report else None
    text = Text()
    for i, name in enumerate(app.variants):
        if i:
            text.append(" ")
        if name == best:
            text.append(f"{name}★", style="bold green")
        elif report is not None and not report.usable(accel_of_variant(name)):
            text.append(name, style="dim")
        else:
            text.append(name)
        if app.variants[name].unverified:
            text.append("?", style="bold yellow")  # unverified: see the detail pane
    return text


def stack_cell(app: App, report: HardwareReport | None) -> Text:
    """The software stack of the variant that fits best (else the first one that tells one)."""
    best = best_variant(app, report) if report else None
    names = [best] if best else []
    names += [n for n in app.variants if n != best]
    for name in names:
        variant = app.variants[name]
        stack = stack_of(variant.pinned or variant.image)
        if stack:
            return _stack_text(stack)
    return Text("")


def _stack_text(stack: str) -> Text:
    """The stack in cyan; a date the catalog could not read upstream in yellow, apart from it."""
    known, unverified, _ = stack.partition(UNVERIFIED_DATE)
    return Text.assemble((known, "cyan"), (unverified, "yellow"))


def stack_of(image: str) -> str:
    """The software stack a tag carries, e.g. '1.117.1 · ROCm 7.2.4 · 2026-01-01'."""
    from paitui.domain.catalog.tags import parse_image

    return parse_image(image).stack_summary()


def render_app_detail(
    app: App, report: HardwareReport | None, source: str | None
) -> RenderableType:
    """The detail pane of one app: description, variants, ports, health, mounts, needs, notes."""
    head = Text()
    head.append(app.name, style="bold")
    head.append(f"  {app.id} · {app.kind.value}", style="dim")
    if app.legacy:
        head.append("  legacy", style="bold yellow")
    parts: list[RenderableType] = [head, Text(app.description)]
    if app.homepage:
        parts.append(Text.from_markup(f"[dim]home[/] [link={app.homepage}]{app.homepage}[/link]"))

    best = best_variant(app, report) if report else None
    variants = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
    variants.add_column("variant", no_wrap=True)
    variants.add_column("image", overflow="fold")
    for name, variant in app.variants.items():
        label = Text(name, style="bold green" if name == best else "")
        if report is not None and not report.usable(accel_of_variant(name)):
            label.stylize("dim")
        image = Text(variant.image)
        if variant.aliases:
            image.append(f"  (also :{', :'.join(variant.aliases)})", style="dim")
        stack_source = variant.pinned or variant.image
        stack = stack_of(stack_source)
        if stack:
            image.append("\n")
            image.append_text(_stack_text(stack))
        if variant.legacy:
            image.append("  legacy", style="yellow")
        if variant.unverified:
            # An app whose variants are all unverified still gets one by default.
            never = any(not v.unverified for v in app.variants.values())
            image.append(
                "\nunverified: not checked against upstream"
                + ("; never picked by default" if never else ""),
                style="bold yellow",
            )
        variants.add_row(label, image)
    parts += [Text("\nVariants", style="bold underline"), variants]

    if app.ports:
        parts.append(Text("\nPorts", style="bold underline"))
        for port in app.ports:
            line = Text(f"{port.container}/{port.protocol}  ", style="bold")
            line.append(port.purpose)
            for link in port.links:
                line.append(f"\n   {link.label}: {link.path}", style="dim")
            parts.append(line)
    if app.health:
        h = app.health
        what = f"TCP connect to {app.health_port()}" if h.type == "tcp" else f"GET {h.path}"
        parts.append(Text.assemble(("\nHealth ", "bold underline"), ("\n" + what, "")))
    mounts = app.mounts
    if mounts.models or mounts.data:
        parts.append(Text("\nMounts", style="bold underline"))
        if mounts.models:
            formats = ", ".join(mounts.models.formats) or "any"
            parts.append(Text(f"models → {mounts.models.path} (reads {formats})"))
        if mounts.data:
            owner = f", owned by {mounts.data.uid}" if mounts.data.uid is not None else ""
            parts.append(Text(f"data   → {mounts.data.path}{owner}"))
    needs = []
    if app.needs.model_file:
        needs.append(f"one {'/'.join(app.needs.model_file)} model file")
    if app.needs.hf_repo:
        needs.append("a Hugging Face model id")
    if app.needs.env:
        needs.append("env " + ", ".join(app.needs.env))
    if needs:
        parts.append(Text.assemble(("\nNeeds ", "bold underline"), "\n" + "; ".join(needs)))
    notes = [app.notes] + [f"{n}: {v.notes}" for n, v in app.variants.items() if v.notes]
    notes = [n for n in notes if n]
    if notes:
        parts.append(Text("\nNotes", style="bold underline"))
        parts.extend(Text(n) for n in notes)
    if source:
        parts.append(Text(f"\nfrom {source}", style="dim"))
    return Group(*parts)
