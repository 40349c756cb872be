"""``paitui catalog`` lists the merged app catalog; ``paitui catalog check FILE...`` validates.

Listing never fails on a broken user catalog: problems go to stderr and the valid apps are listed;
the exit status is non-zero only when no app loaded at all.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paitui.cli.common import Subparsers
    from paitui.domain.catalog.schema import App, Catalog, CatalogIssue


def register(subparsers: Subparsers) -> None:
    """Add ``paitui catalog`` and ``paitui catalog check``."""
    parser = subparsers.add_parser(
        "catalog",
        help="list the app catalog, or check catalog files",
        description="List the apps of the bundled catalog merged with catalog.d/*.yml in the "
        "config dir and any --catalog files (same id overrides, new ids add).",
    )
    parser.add_argument("--json", action="store_true", help="print the apps as JSON")
    parser.set_defaults(func=run_list)
    sub = parser.add_subparsers(dest="catalog_command", metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="validate catalog files",
        description="Validate catalog files; print every problem as "
        "file:line:col (app ID): field: message. Exit status 1 when any problem is found. "
        "Settings that hand the container the host (privileged, the engine socket or / "
        "mounted) are printed as warnings and do not fail the check.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="catalog YAML file")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(func=run_check)


def _stack(image: str) -> str:
    from paitui.domain.catalog.tags import stack_summary

    return stack_summary(image)


def app_record(app: App, source: str | None) -> dict[str, Any]:
    """One app as plain data for ``--json``."""
    variants = []
    for name, v in app.variants.items():
        variants.append(
            {
                "name": name,
                "accel": app.variant_accel(name).value,
                "image": v.image,
                "aliases": list(v.aliases),
                "pinned": v.pinned,
                "stack": _stack(v.pinned or v.image),
                "legacy": v.legacy,
                "unverified": v.unverified,
                "local_build": v.local_build,
            }
        )
    return {
        "id": app.id,
        "name": app.name,
        "kind": app.kind.value,
        "description": app.description,
        "homepage": app.homepage,
        "legacy": app.legacy,
        "source": source,
        "ports": [
            {"container": p.container, "protocol": p.protocol, "purpose": p.purpose}
            for p in app.ports
        ],
        "variants": variants,
    }


def issue_record(issue: CatalogIssue) -> dict[str, Any]:
    """One issue as plain data, plus its one-line text."""
    return {**issue.model_dump(), "text": str(issue)}


_NAME_WIDTH = 28
_LINE_WIDTH = 100


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_list(catalog: Catalog) -> str:
    """The apps as a table, with the stack of each pinned variant underneath."""
    from paitui.domain.text_safety import terminal_safe

    apps = catalog.sorted_apps()
    names = {a.id: terminal_safe(a.name) for a in apps}
    width_id = max((len(a.id) for a in apps), default=2)
    width_name = min(max((len(n) for n in names.values()), default=4), _NAME_WIDTH)
    lines = [f"{'ID':<{width_id}}  {'NAME':<{width_name}}  {'KIND':<6}  VARIANTS"]
    for app in apps:
        prefix = (
            f"{app.id:<{width_id}}  {_clip(names[app.id], width_name):<{width_name}}  "
            f"{app.kind.value:<6}  "
        )
        variants = ", ".join(app.variants) + ("  (legacy)" if app.legacy else "")
        # Long variant lists wrap under their column so a line stays readable in 100 columns.
        wrapped = textwrap.wrap(
            variants, max(_LINE_WIDTH - len(prefix), 20), break_on_hyphens=False
        ) or [""]
        lines.append(prefix + wrapped[0])
        lines.extend(" " * len(prefix) + rest for rest in wrapped[1:])
        pinned = [(n, v.pinned) for n, v in app.variants.items() if v.pinned]
        width_variant = max((len(n) for n, _ in pinned), default=0)
        for name, tag in pinned:
            lines.append(f"    {name:<{width_variant}}  {terminal_safe(_stack(tag or ''))}")
    lines.append(f"{len(apps)} apps")
    return "\n".join(lines)


def _print_issues(issues: tuple[CatalogIssue, ...] | list[CatalogIssue]) -> None:
    from paitui.domain.text_safety import terminal_safe

    for issue in issues:
        print(f"paitui: catalog: {terminal_safe(str(issue))}", file=sys.stderr)


def report_issues(catalog: Catalog) -> Catalog:
    """Print the catalog's problems to stderr (for commands that use the catalog); returns it."""
    _print_issues(catalog.issues)
    return catalog


def run_list(args: argparse.Namespace) -> int:
    """List the merged catalog; exit 1 only when no app loaded."""
    from paitui.cli.common import print_json
    from paitui.services.catalog.loader import load_catalog

    catalog = load_catalog([Path(p) for p in getattr(args, "catalog", []) or []])
    _print_issues(catalog.issues)
    if args.json:
        print_json(
            {
                "apps": [app_record(a, catalog.sources.get(a.id)) for a in catalog.sorted_apps()],
                "issues": [issue_record(i) for i in catalog.issues],
            }
        )
    else:
        print(format_list(catalog))
    if not catalog.apps:
        print(
            "paitui: no app could be loaded: fix the catalog problems above "
            "(check a file with: paitui catalog check FILE)",
            file=sys.stderr,
        )
        return 1
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Validate files; print each problem on one line; exit 1 when any is found."""
    import os

    from paitui.cli.common import print_json
    from paitui.domain.catalog.schema import CatalogIssue
    from paitui.services.catalog.loader import check_file

    count = 0
    issues: list[CatalogIssue] = []
    warnings: list[CatalogIssue] = []
    for name in args.files:
        path = Path(name)
        if not os.path.lexists(path):
            issues.append(CatalogIssue(file=name, message="file not found"))
            continue
        # FIFOs, devices and directories are refused by the loader, with the reason.
        apps, file_issues, file_warnings = check_file(path)
        count += len(apps)
        issues.extend(file_issues)
        warnings.extend(file_warnings)
    if args.json:
        print_json(
            {
                "apps": count,
                "issues": [issue_record(i) for i in issues],
                "warnings": [issue_record(w) for w in warnings],
            }
        )
    else:
        from paitui.domain.text_safety import terminal_safe

        for issue in issues:
            print(terminal_safe(str(issue)))
        # Loud, but not a failure: some images need these settings (vLLM XPU: privileged).
        for warning in warnings:
            print(terminal_safe(str(warning)))
        if not issues:
            plural = "" if count == 1 else "s"
            n = len(warnings)
            grants = (
                f"; {n} setting{'s' if n > 1 else ''} grant{'' if n > 1 else 's'} "
                "the container the host (see above)"
                if n
                else ""
            )
            print(f"{count} app{plural} OK{grants}")
    return 1 if issues else 0
