"""``paitui start APP --host NAME`` for a box that is not this one: planned for THAT box.

Its hardware (its own ``paitui hw --json`` over SSH, else the engine's facts, with what is
missing and what was assumed said), its own store and apps dir (``domain.fleet.remote_plan``),
the ports its engine publishes (no bind test is possible from here), and the model as its store
holds it. The store stays read-only in the container there too: the planner mounts it so.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from paitui.domain.fleet.hosts import HostSpec
from paitui.domain.launch.plan import LaunchPlan
from paitui.domain.models.holders import RemoteStore

if TYPE_CHECKING:  # every cli module is imported to build the parser: no services at import
    from paitui.services.fleet.hosts import HostEngine
    from paitui.services.registry import Services


def _error(message: str, code: int = 2, fix: str | None = None) -> int:
    from paitui.domain.text_safety import terminal_safe

    print(f"paitui: error: {terminal_safe(message)}", file=sys.stderr)
    if fix:
        print(f"  fix: {terminal_safe(fix)}", file=sys.stderr)
    return code


def _pull_there(spec: HostSpec, model: str) -> RemoteStore | int:
    """Pull ``model`` (REPO:FILE) into the box's store, its progress on stderr; the store as it
    is afterwards, or the exit status after saying why not."""
    from paitui.domain.fleet.remote_plan import split_model
    from paitui.domain.text_safety import terminal_safe
    from paitui.services.models.remote import RemoteModelsError, remote_pull, remote_store

    repo, name = split_model(model)
    print(
        f"paitui: {terminal_safe(model)} is not on {spec.name}: pulling it there first",
        file=sys.stderr,
    )

    def show(line: str) -> None:
        print(f"{spec.name}: {terminal_safe(line)}", file=sys.stderr, flush=True)

    try:
        remote_pull(spec, repo, [name], show)
        return remote_store(spec)
    except RemoteModelsError as exc:
        return _error(f"{spec.name}: the pull of {model} failed: {exc}", 1)


def plan_on_host(
    args: argparse.Namespace, services: Services, engine: HostEngine
) -> tuple[LaunchPlan, list[str]] | int:
    """The plan for ``args.app`` on the engine's box and the notes that say what it rests on;
    or the exit status after saying why there is none."""
    from paitui.domain.fleet.remote_plan import (
        NO_BIND_TEST,
        NotOnBox,
        engine_port_check,
        remote_dirs,
        remote_model,
        report_from_engine,
        report_from_json,
    )
    from paitui.domain.hardware.report import HardwareReport
    from paitui.domain.launch.plan import LaunchChoices
    from paitui.domain.launch.planner import PlanError, plan_launch
    from paitui.services.hardware.remote import host_hardware
    from paitui.services.models.remote import RemoteModelsError, remote_store

    spec = engine.spec
    app = services.catalog.apps.get(args.app)
    if app is None:
        known = ", ".join(sorted(services.catalog.apps)) or "none (the catalog is empty)"
        return _error(f"no app {args.app!r} in the catalog; known: {known}")
    env: dict[str, str] = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            return _error(f"--env {item!r} is not KEY=VALUE")
        env[key] = value
    if args.source:
        return _error(f"--source builds on this box; {spec.name} cannot see {args.source}")
    notes: list[str] = []
    store: RemoteStore | None = None
    why_no_store = ""
    try:
        store = remote_store(spec)
    except RemoteModelsError as exc:
        why_no_store = str(exc)

    async def ask() -> tuple[HardwareReport, set[int]]:
        if args.no_hw:
            notes.append(f"{spec.name}: planned without its hardware (--no-hw)")
            report = HardwareReport()
        else:
            hw = await host_hardware(engine)
            if hw.source == "paitui on the box":
                report = report_from_json(hw.report)
                notes.append(f"{spec.name}: hardware from paitui there")
            else:
                report, assumed = report_from_engine(hw)
                notes.extend([*(f"{spec.name}: {n}" for n in hw.notes), *assumed])
        return report, await engine.published_ports()

    try:
        hardware, published = asyncio.run(ask())
    except Exception as exc:
        return _error(f"{spec.name}: {exc}", 1)
    formats = app.needs.model_file or (app.mounts.models.formats if app.mounts.models else ())
    model = args.model
    try:
        dirs = remote_dirs(spec, store, why_no_store)
        if model is not None and not model.startswith("/"):
            try:
                model = remote_model(spec, store, model, formats)
            except NotOnBox:
                # As `paitui start` does here: a named file missing there is pulled there first.
                pulled = _pull_there(spec, model)
                if isinstance(pulled, int):
                    return pulled
                model = remote_model(spec, pulled, model, formats)
    except ValueError as exc:
        return _error(str(exc))
    notes.extend(dirs.notes)
    settings = services.settings.with_changes(
        models_dir=Path(dirs.models_dir), apps_dir=Path(dirs.apps_dir)
    )
    choices = LaunchChoices(
        variant=args.variant,
        model_file=model,
        projector=None,
        model_id=args.model_id,
        gpu=args.gpu,
        host_port=args.port,
        env=env,
        extra_args=tuple(args.arg),
        source_dir=None,
    )
    try:
        plan = plan_launch(
            app, hardware, settings, choices, port_free=engine_port_check(published), hf_cache=None
        )
    except PlanError as exc:
        return _error(f"{spec.name}: {exc.message}", 2, exc.fix)
    notes.append(NO_BIND_TEST.format(name=spec.name))
    if plan.seed_files or plan.models_views or plan.models_links:
        notes.append(
            f"{spec.name}: the store's views and the app's seed files are prepared only on "
            "this box; run the app once with paitui on that box to have them"
        )
    return plan, notes
