"""``paitui hw``: what the hardware detection found, as text or JSON.

The ``PAITUI_HW_*`` variables documented in ``paitui.services.hardware.detect`` apply here too.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from paitui.domain.units import format_size

if TYPE_CHECKING:
    from paitui.cli.common import Subparsers
    from paitui.domain.hardware.report import Gpu, HardwareReport


def register(subparsers: Subparsers) -> None:
    """Add ``paitui hw``."""
    parser = subparsers.add_parser(
        "hw",
        help="show GPUs, drivers, permissions and which app variants can run here",
        description="Detect GPUs, drivers, device access and Docker GPU support; "
        "list which accelerator kinds can run, best first, and what to fix.",
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.set_defaults(func=run)


def _size(n: int | None) -> str:
    return format_size(n, unit="GiB")


def _gpu_lines(g: Gpu) -> list[str]:
    kind = "display only" if g.is_display_only else ("integrated" if g.integrated else "discrete")
    lines = [f"  {g.name}  [{g.vendor.value}, {kind}]"]
    lines.append(f"    PCI {g.pci_slot}  id {g.pci_id}  driver {g.driver or 'none'}")
    if g.vram_total is not None:
        used = f"{_size(g.vram_used)} used of " if g.vram_used is not None else ""
        lines.append(f"    VRAM {used}{_size(g.vram_total)}")
    for label, node, ok in (
        ("card", g.card_node, g.card_access),
        ("render", g.render_node, g.render_access),
    ):
        if node:
            lines.append(f"    {label:<6} {node}  {'ok' if ok else 'NO ACCESS'}")
    return lines


def format_report(r: HardwareReport) -> str:
    """The report as readable text: GPUs, accelerators, ranking, host, findings with fixes."""
    out: list[str] = []
    out.append(f"GPUs ({len(r.gpus)}, via {r.source}):")
    for g in r.gpus:
        out.extend(_gpu_lines(g))
    if not r.gpus:
        out.append("  none found")
    out.append("")
    out.append("Accelerators:")
    for a in r.accels:
        mark = "yes" if a.usable else "no "
        out.append(f"  {a.accel.value:<7}{mark}  {'; '.join(a.reasons)}")
    out.append("")
    out.append("Ranking: " + " > ".join(a.value for a in r.ranking))
    out.append("")
    out.append("Host:")
    kfd = "absent" if not r.kfd_present else ("ok" if r.kfd_access else "present, NO ACCESS")
    out.append(f"  kernel {r.kernel or '?'}   /dev/kfd {kfd}   WSL2 {'yes' if r.wsl2 else 'no'}")
    groups = []
    for name, gid, member in (
        ("render", r.render_gid, r.user_in_render),
        ("video", r.video_gid, r.user_in_video),
    ):
        groups.append(
            f"{name} "
            + (
                f"{gid} ({'member' if member else 'not a member'})"
                if gid is not None
                else "missing"
            )
        )
    out.append(f"  user {r.user or '?'} (uid {r.uid})   groups: {', '.join(groups)}")
    if r.nvidia_nodes:
        out.append(f"  NVIDIA nodes: {' '.join(r.nvidia_nodes)}")
    if r.vulkan_icds:
        out.append(f"  Vulkan ICDs: {' '.join(r.vulkan_icds)}")
    d = r.docker
    if d is None:
        out.append("  Docker: not checked")
    else:
        out.append(f"  Engine {d.summary()}")
    if r.models_free_bytes is not None:
        out.append(f"  models store: {_size(r.models_free_bytes)} free in {r.models_dir}")
    out.append("")
    if r.findings:
        out.append("Findings:")
        for f in r.findings:
            out.append(f"  [{f.severity.value}] {f.message}")
            if f.fix:
                out.append(f"      fix: {f.fix}")
    else:
        out.append("Findings: none")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    """Detect and print."""
    from paitui.cli import gpu_fields
    from paitui.cli.common import print_json, services_from_args
    from paitui.domain.text_safety import terminal_safe
    from paitui.services.hardware.detect import detect_hardware

    services = services_from_args(args)
    try:
        report = detect_hardware(services.settings)
        usage = gpu_fields.sample() if gpu_fields.live_enabled() else None
    except ValueError as exc:  # a malformed PAITUI_HW_* or PAITUI_GPU_* variable
        print(f"paitui hw: {terminal_safe(str(exc))}", file=sys.stderr)
        return 2
    if args.json:
        data = report.to_json()
        if usage is not None:
            gpu_fields.add_hw_fields(data, usage)
        print_json(data)
    else:
        live = gpu_fields.usage_lines(report, usage) if usage is not None else []
        text = "\n".join([format_report(report), *live])
        print(terminal_safe(text, multiline=True))
    return 0
