"""``paitui compose APP`` and ``paitui run-cmd APP``: an app's launch plan for use elsewhere.

The plan is the one paitui itself would execute on this box (hardware as detected, ports in
use skipped); ``--variant`` and friends choose as the launch dialog does.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paitui.cli.common import Subparsers
    from paitui.domain.engine.containers import ContainerInfo
    from paitui.domain.hardware.report import HardwareReport
    from paitui.domain.launch.plan import LaunchPlan
    from paitui.services.fleet.host_ports import PortCheck
    from paitui.services.registry import Services


def _add_choices(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "app", metavar="APP", help="app id from the catalog (paitui catalog lists them)"
    )
    parser.add_argument("--variant", help="image variant (default: the best one for this box)")
    parser.add_argument(
        "--model",
        metavar="FILE|REPO[:FILE]",
        help="model file, relative to the models store, or a Hub repo and file (glob) in the "
        "store or your HF cache; paitui start pulls it when it is in neither",
    )
    parser.add_argument(
        "--model-id",
        metavar="ORG/NAME",
        help="Hugging Face repo id for {model_id} (paitui start pulls it when not installed)",
    )
    parser.add_argument(
        "--no-projector",
        action="store_true",
        help="do not pass the multimodal projector (mmproj) found beside the GGUF",
    )
    parser.add_argument("--gpu", metavar="PCI_SLOT", help="only this GPU (e.g. 0000:03:00.0)")
    parser.add_argument("--port", type=int, metavar="N", help="host port for the app's first port")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment (repeatable)",
    )
    parser.add_argument(
        "--arg", action="append", default=[], metavar="ARG", help="extra argument after the command"
    )
    parser.add_argument(
        "--no-hw", action="store_true", help="plan without detecting this box's hardware"
    )
    parser.add_argument(
        "--source",
        metavar="DIR",
        help="the app's source checkout, for an app whose image is built locally (e.g. runai): "
        "paitui builds the image from it and mounts it as upstream does",
    )


def register(subparsers: Subparsers) -> None:
    """Add ``paitui compose`` and ``paitui run-cmd``."""
    compose = subparsers.add_parser(
        "compose",
        help="print an app's launch plan as a docker-compose service",
        description="Print the exact container paitui would start for APP as a compose file.",
    )
    _add_choices(compose)
    compose.set_defaults(func=run_compose)
    run = subparsers.add_parser(
        "run-cmd",
        help="print an app's launch plan as a docker run line",
        description="Print the exact container paitui would start for APP as a docker run line.",
    )
    _add_choices(run)
    run.add_argument("--json", action="store_true", help="print the argv list as JSON")
    run.set_defaults(func=run_run_cmd)


def _hardware(services: Services, skip: bool) -> HardwareReport:
    from paitui.domain.hardware.report import HardwareReport

    if skip:
        return HardwareReport()
    try:
        from paitui.services.hardware.detect import detect_hardware
    except ImportError:
        print(
            "paitui: note: hardware detection is not available; planning without it",
            file=sys.stderr,
        )
        return HardwareReport()
    try:
        return detect_hardware(services.settings)
    except Exception as exc:  # any failure here must not stop an export
        print(
            f"paitui: note: hardware detection failed ({exc}); planning without it", file=sys.stderr
        )
        return HardwareReport()


def port_check(services: Services) -> PortCheck:
    """The free-port test the Desktop uses too: bind tests plus the ports managed containers
    publish (asked of the engine; none when it does not answer)."""
    import asyncio

    from paitui.domain.engine.errors import EngineError
    from paitui.services.engine.client import Engine
    from paitui.services.fleet.host_ports import held_ports, launch_port_check

    engine = Engine(services.settings, timeout=10)

    async def listing() -> list[ContainerInfo]:
        try:
            return await engine.list_managed()
        finally:
            await engine.close()

    try:
        containers = asyncio.run(listing())
    except EngineError:
        containers = []  # no engine answering here: none of its containers holds a port
    return launch_port_check(services.settings.bind_address, held_ports(containers))


def _plan(args: argparse.Namespace, *, pull_models: bool = False) -> LaunchPlan | int:
    planned = plan_with_hardware(args, pull_models=pull_models)
    return planned if isinstance(planned, int) else planned[0]


def plan_with_hardware(
    args: argparse.Namespace, *, pull_models: bool = False
) -> tuple[LaunchPlan, HardwareReport] | int:
    """The launch plan for the parsed choices and the hardware it was planned for; or the exit
    status after printing why there is none."""
    from paitui.cli.common import services_from_args
    from paitui.cli.models import resolve_start_model, start_companions
    from paitui.domain.launch.plan import LaunchChoices
    from paitui.domain.launch.planner import PlanError, plan_launch
    from paitui.services.engine.build import source_problem
    from paitui.services.models.library import user_hf_cache

    services = services_from_args(args)
    catalog = services.catalog
    app = catalog.apps.get(args.app)
    if app is None:
        known = ", ".join(sorted(catalog.apps)) or "none (the catalog is empty)"
        print(f"paitui: error: no app {args.app!r} in the catalog; known: {known}", file=sys.stderr)
        return 2
    env: dict[str, str] = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"paitui: error: --env {item!r} is not KEY=VALUE", file=sys.stderr)
            return 2
        env[key] = value
    models = resolve_start_model(services, app.id, args.model, args.model_id, pull=pull_models)
    if isinstance(models, int):
        return models
    model_file, projector = start_companions(services, app.id, models[0])
    choices = LaunchChoices(
        variant=args.variant,
        model_file=model_file,
        projector=None if args.no_projector else projector,
        model_id=models[1],
        gpu=args.gpu,
        host_port=args.port,
        env=env,
        extra_args=tuple(args.arg),
        source_dir=os.path.abspath(os.path.expanduser(args.source)) if args.source else None,
    )
    hardware = _hardware(services, args.no_hw)
    try:
        check = port_check(services)
        plan = plan_launch(
            app, hardware, services.settings, choices, port_free=check, hf_cache=user_hf_cache()
        )
        problem = source_problem(plan.build) if plan.build is not None else None
        if problem is not None:
            raise PlanError(problem, "pass --source DIR: the checkout that holds its Dockerfile")
        return plan, hardware
    except PlanError as exc:
        from paitui.domain.text_safety import terminal_safe

        print(f"paitui: error: {terminal_safe(exc.message)}", file=sys.stderr)
        if exc.fix:
            print(f"  fix: {terminal_safe(exc.fix)}", file=sys.stderr)
        return 2


def run_compose(args: argparse.Namespace) -> int:
    """Print the plan as a compose file."""
    from paitui.domain.launch.export import compose_text
    from paitui.domain.text_safety import terminal_safe

    plan = _plan(args)
    if isinstance(plan, int):
        return plan
    sys.stdout.write(terminal_safe(compose_text(plan), multiline=True))
    return 0


def run_run_cmd(args: argparse.Namespace) -> int:
    """Print the plan as a docker run line."""
    from paitui.domain.launch.export import run_argv, run_line

    plan = _plan(args)
    if isinstance(plan, int):
        return plan
    if args.json:
        from paitui.cli.common import print_json

        print_json(
            {"argv": run_argv(plan), "data_dir": plan.data_dir, "warnings": list(plan.warnings)}
        )
        return 0
    from paitui.domain.text_safety import terminal_safe

    for warning in plan.warnings:
        print(f"# note: {terminal_safe(warning)}")
    print(terminal_safe(run_line(plan), multiline=True))
    return 0
