"""Which variant of an app fits this box, or why none does. Pure: reads the hardware report."""

from __future__ import annotations

from paitui.domain.catalog.schema import App, accel_of_variant
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import HardwareReport

#: What each accelerator kind needs, in words a user understands.
NEEDS_TEXT: dict[Accel, str] = {
    Accel.CUDA: "NVIDIA CUDA",
    Accel.ROCM: "AMD ROCm",
    Accel.INTEL: "Intel oneAPI",
    Accel.VULKAN: "Vulkan",
    Accel.CPU: "a CPU",
}


GIB = 1024**3
#: A board sold as N GB reports a little less (an 8 GB RX 5500 XT: 7.98 GiB, what the kernel
#: and firmware keep), so a variant fits when the GPU has all but this share of what it needs.
VRAM_SLACK = 0.05


def _need(app: App, name: str) -> float:
    """The VRAM the variant asks for in GiB (0 when it says nothing, or runs on the CPU)."""
    need = app.variants[name].min_vram_gb
    return 0.0 if need is None or accel_of_variant(name) == Accel.CPU else need


def _too_big(app: App, name: str, vram: int | None) -> bool:
    """Whether the variant asks for more VRAM than the box's largest GPU has (unknown: fits)."""
    if vram is None:
        return False
    return _need(app, name) * GIB * (1 - VRAM_SLACK) > vram


def alias_names(app: App) -> dict[str, str]:
    """Older names of variants, from the tags of their ``aliases`` images: ``ipex`` -> ``xpu``
    for Pai ComfyUI, whose README still names the renamed ``comfyui:ipex``."""
    names: dict[str, str] = {}
    for name, variant in app.variants.items():
        for image in variant.aliases:
            tag = image.rpartition("/")[2].partition("@")[0].rpartition(":")[2].lower()
            if tag and tag != image and tag not in app.variants:
                names.setdefault(tag, name)
    return names


def variant_named(app: App, wanted: str) -> str | None:
    """The variant a user's name stands for: its own name, or an older one (case-insensitive)."""
    if wanted in app.variants:
        return wanted
    lowered = wanted.strip().lower()
    if lowered in app.variants:
        return lowered
    return alias_names(app).get(lowered)


def ranked_variants(app: App, report: HardwareReport | None) -> list[str]:
    """The app's variants that can run here, best first.

    Order: verified before unverified, variants that fit the VRAM before those that ask for
    more (of those, the one that asks least first), current before legacy, then the box's
    accelerator ranking, then catalog order.
    """
    names = list(app.variants)
    if report is None:
        return names
    order = {accel: i for i, accel in enumerate(report.ranking)}
    vram = report.max_vram()
    usable = [n for n in names if accel_of_variant(n) in order]
    return sorted(
        usable,
        key=lambda n: (
            app.variants[n].unverified,
            _too_big(app, n, vram),
            _need(app, n) if _too_big(app, n, vram) else 0.0,
            app.variants[n].legacy,
            order[accel_of_variant(n)],
        ),
    )


def defaultable(app: App) -> list[str]:
    """The variants paitui may pick on its own: the verified ones. An unverified variant (a
    no-op test image, a community build) runs only when asked for by name, unless the app
    has nothing else (then the app itself is unverified, and every plan says so)."""
    verified = [n for n, v in app.variants.items() if not v.unverified]
    return verified or list(app.variants)


def best_variant(app: App, report: HardwareReport | None) -> str | None:
    """The variant paitui picks by default on this box, or None if none can run."""
    allowed = set(defaultable(app))
    return next((n for n in ranked_variants(app, report) if n in allowed), None)


def why_not(app: App, report: HardwareReport) -> str:
    """Why no variant of the app can run here, in one line."""
    allowed = defaultable(app)
    kinds = sorted({accel_of_variant(n) for n in allowed}, key=list(Accel).index)
    wants = " or ".join(NEEDS_TEXT[k] for k in kinds)
    reasons = []
    for kind in kinds:
        status = report.status(kind)
        if status and status.reasons:
            reasons.append(status.reasons[0])
    text = f"needs {wants}" + (f" — {reasons[0]}" if reasons else "")
    spare = [n for n in ranked_variants(app, report) if n not in allowed]
    if spare:
        text += (
            f" ({', '.join(spare)} would run but {'is' if len(spare) == 1 else 'are'} "
            "unverified, so never picked by default)"
        )
    return text


def unverified_note(app: App, name: str) -> str | None:
    """What a user must know before running an unverified variant, or None if it is verified."""
    variant = app.variants[name]
    if not variant.unverified:
        return None
    first = variant.notes.strip().split(". ")[0].rstrip(".")
    return (
        f"{app.name} {name} is unverified: paitui has not checked this image or its settings "
        "against upstream" + (f" ({first})" if first else "")
    )
