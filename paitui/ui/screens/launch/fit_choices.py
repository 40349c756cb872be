"""The launch dialog's side of "will it fit?": which model is chosen, and taking an offer.

Functions of the dialog (``LaunchScreen``): the panel (``fit_panel``) judges; these say what
to judge (the installed file chosen, else the highlighted suggestion or Hub result) and carry
an offer out (another quant chosen; ``-c`` or ``--n-gpu-layers`` in the Options).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import OptionList, Select

from paitui.domain.hardware.accel import Accel
from paitui.domain.launch.model_choice import ModelOffer, refit_offer
from paitui.domain.models.fit import Fit, FitResult
from paitui.domain.models.fit_verdict import Offer, Verdict
from paitui.ui.screens.launch.fit_panel import FitPanel, FitTarget, set_flag, takes_llama_args
from paitui.ui.screens.launch.request import DOWNLOAD
from paitui.ui.widgets.model_picker import ModelPicker

if TYPE_CHECKING:
    from paitui.ui.screens.launch.screen import LaunchScreen

#: A placeholder verdict, judged again at once (``refit_offer``).
_UNJUDGED = FitResult(Fit.UNKNOWN, "")
_LAYER_FLAGS = ("--n-gpu-layers", "-ngl", "--gpu-layers")


def highlighted_offer(screen: LaunchScreen) -> ModelOffer | None:
    """The suggestion or Hub result under the picker's cursor."""
    pickers = screen.query(ModelPicker)
    if not pickers:
        return None
    option = pickers.first().query_one("#offers", OptionList).highlighted_option
    if option is None:
        return None
    return next((o for o in pickers.first().offers() if o.key == option.id), None)


def _installed(screen: LaunchScreen, rel: str, base: FitTarget) -> FitTarget | None:
    model = next((m for m in screen.models if f"{m.repo_id}/{m.path}" == rel), None)
    if model is None:
        return None
    same = tuple((m.path, m.size) for m in screen.models if m.repo_id == model.repo_id)
    path = screen._services().model_store.path_for(model.repo_id, model.path)
    return replace(base, key=f"local:{rel}", local=path, repo=model.repo_id, siblings=same)


def fit_target(screen: LaunchScreen) -> FitTarget | None:
    """The model the dialog would start with: the installed one chosen, else the highlighted
    suggestion or Hub result; None on the CPU or with none chosen."""
    if screen._accel() == Accel.CPU:
        return None
    app, plan = screen.catalog_app, screen.plan
    if plan is not None and plan.command:
        argv = tuple(plan.command)
    else:
        argv = tuple(app.command or ()) + screen.choices().extra_args
    env = tuple(sorted(plan.env.items())) if plan is not None else ()
    base = FitTarget(key="", argv=argv, env=env, partial_offload=takes_llama_args(app))
    model = screen._value("#model")
    if model and model != DOWNLOAD:
        return _installed(screen, model, base)
    offer = highlighted_offer(screen)
    if offer is None or offer.file is None:
        return None
    if offer.installed:
        return _installed(screen, offer.installed, base)
    key = f"hub:{offer.repo}/{offer.file}"
    return replace(base, key=key, repo=offer.repo, file=offer.file, size=offer.size or 0)


def word_offers(picker: ModelPicker, target: FitTarget, result: Verdict | str) -> None:
    """The Hub offer just judged gets the verdict on free memory in the list too, so the list
    and the line below it never disagree."""
    key = target.key
    if not isinstance(result, Verdict) or not key.startswith("hub:"):
        return
    fit = FitResult(Fit(result.level.value), f"{result.text} (free now)")

    def judged(offers: list[ModelOffer]) -> list[ModelOffer]:
        return [replace(o, fit=fit) if f"hub:{o.repo}/{o.file}" == key else o for o in offers]

    picker.set_offers(judged(picker.suggested), judged(picker.found))


def with_offer(extra: str, offer: Offer) -> str:
    """The Options text with a context or layers offer taken."""
    if offer.kind == "context":
        return set_flag(extra, ("-c", "--ctx-size"), offer.value)
    return set_flag(extra, _LAYER_FLAGS, offer.value)


def take_quant(screen: LaunchScreen, offer: Offer) -> None:
    """Choose the smaller quant: the installed file when it is one, else its Hub offer
    (highlighted in the picker: Enter gets it)."""
    panel = screen.query_one(FitPanel)
    target = panel.target
    if target is None:
        return
    rel = f"{target.repo}/{offer.value}"
    if any(f"{m.repo_id}/{m.path}" == rel for m in screen.models):
        select = screen.query_one("#model", Select)
        select.set_options(screen._model_select_options())
        select.value = rel
        return
    pickers = screen.query(ModelPicker)
    if not pickers:
        return
    picker = pickers.first()
    base = highlighted_offer(screen)
    if base is None or base.repo != target.repo:
        base = next((o for o in picker.offers() if o.repo == target.repo), None)
    note = f"a smaller quant of {Path(target.local or target.file).name}"
    size = panel.sizes.get(offer.value) or None
    if base is None:
        base = ModelOffer(rel, target.repo, offer.value, size, "llm", note, _UNJUDGED, "hub")
    chosen = replace(
        base, key=rel, file=offer.value, size=size, installed=None, origin="hub", note=note
    )
    chosen = refit_offer(chosen, screen.catalog_app, screen._accel(), screen.report)
    if screen.query("#model"):
        screen.query_one("#model", Select).clear()
    picker.set_offers(found=[chosen, *(o for o in picker.found if o.key != rel)])
    shown = picker.query_one("#offers", OptionList)
    shown.highlighted = shown.get_option_index(rel)
    picker.focus_offers()
