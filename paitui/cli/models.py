"""``paitui models``: search the hub, pull files into the shared store, list and remove them."""

from __future__ import annotations

import argparse
import fnmatch
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paitui.domain.models import Download, RepoFile


def register(subparsers: Any) -> None:
    """Add ``models`` and its sub-commands."""
    parser = subparsers.add_parser("models", help="search, download and manage model files")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    p = sub.add_parser("search", help="search the Hugging Face Hub")
    p.add_argument("query", help="words to look for in repo names")
    for fmt in ("gguf", "diffusers", "safetensors"):
        p.add_argument(f"--{fmt}", action="store_true", help=f"only repos tagged {fmt}")
    p.add_argument("--sort", choices=("downloads", "likes"), default="downloads")
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("pull", help="download files of a repo into the store (resumable)")
    p.add_argument("repo", help="org/name on the hub")
    p.add_argument("files", nargs="*", metavar="FILE|GLOB", help="files to get (default: all)")
    p.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("ls", help="list installed model files")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("rm", help="delete a model (a whole repo or one file)")
    p.add_argument("target", metavar="REPO[/FILE]")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_rm)


def _fail(message: str, status: int = 1) -> int:
    print(f"paitui: {_safe(message)}", file=sys.stderr)
    return status


def _safe(text: str) -> str:
    """Repo ids and file names from the Hub or the disk, as a terminal may show them."""
    from paitui.domain.text_safety import terminal_safe

    return terminal_safe(text)


def cmd_search(args: argparse.Namespace) -> int:
    """Print repos matching the query."""
    from paitui.cli.common import print_json, services_from_args
    from paitui.domain.models import human_size
    from paitui.services.hub import HubError

    services = services_from_args(args)
    formats = [f for f in ("gguf", "diffusers", "safetensors") if getattr(args, f)]
    try:
        results = services.hub.search(args.query, formats=formats, sort=args.sort, limit=args.limit)
    except HubError as exc:
        return _fail(str(exc))
    if args.json:
        print_json([r.__dict__ for r in results])
        return 0
    if not results:
        print("no repos found")
        return 0
    ids = [_safe(r.repo_id) for r in results]
    width = max(len(i) for i in ids)
    print(f"{'REPO':<{width}}  {'DOWNLOADS':>10}  {'LIKES':>6}  {'SIZE':>9}")
    for r, repo_id in zip(results, ids, strict=True):
        gated = "  gated" if r.gated else ""
        print(
            f"{repo_id:<{width}}  {r.downloads:>10}  {r.likes:>6}  {human_size(r.size):>9}{gated}"
        )
    return 0


def select_files(files: tuple[RepoFile, ...], patterns: list[str]) -> list[RepoFile]:
    """Files whose path equals or matches (shell glob) one of ``patterns``; all if none given."""
    if not patterns:
        return list(files)
    return [
        f
        for f in files
        if any(f.path == p or fnmatch.fnmatchcase(f.path, p) for p in patterns)
    ]


def _progress_line(d: Download) -> str:
    from paitui.domain.models import human_size

    pct = f"{100 * d.fraction:5.1f}%" if d.fraction is not None else "    ?"
    eta = f"ETA {d.eta_seconds:.0f}s" if d.eta_seconds is not None else ""
    return (
        f"{d.file.path}: {pct} {human_size(d.bytes_done)}/{human_size(d.bytes_total)} "
        f"{human_size(d.speed)}/s {eta}".rstrip()
    )


def cmd_pull(args: argparse.Namespace) -> int:
    """Download files of a repo, showing progress; resumable and verified."""
    from paitui.cli.common import services_from_args
    from paitui.domain.models import DownloadState, RepoFile, UnsafePathError, human_size
    from paitui.services.downloads import DownloadError
    from paitui.services.hub import HubError
    from paitui.services.store import free_space

    services = services_from_args(args)

    def notice(text: str) -> None:
        print(f"paitui: {text}", file=sys.stderr, flush=True)

    try:
        info = services.hub.repo_info(args.repo, revision=args.revision, on_retry=notice)
    except HubError as exc:
        return _fail(str(exc))
    if info.skipped:
        # ascii(): a hostile name must not write escape sequences to the terminal.
        shown = ", ".join(ascii(n) for n in info.skipped[:5])
        more = f" and {len(info.skipped) - 5} more" if len(info.skipped) > 5 else ""
        notice(
            f"warning: skipped {len(info.skipped)} file(s) of {info.repo_id} whose names are "
            f"unsafe as paths: {shown}{more}"
        )
    chosen = select_files(info.files, list(args.files))
    if not chosen:
        if select_files(tuple(RepoFile(n) for n in info.skipped), list(args.files)):
            return _fail(f"{' '.join(args.files)}: only files with unsafe names match (skipped)")
        names = ", ".join(f.path for f in info.files[:12]) or "none"
        return _fail(f"no file of {args.repo} matches {' '.join(args.files)} (files: {names})")
    manager = services.downloads
    total = sum(f.size or 0 for f in chosen)
    try:
        needed = manager.bytes_needed(info.repo_id, chosen)
    except UnsafePathError as exc:
        return _fail(str(exc))
    free, mount = free_space(services.settings.models_dir)
    print(
        f"{_safe(info.repo_id)}@{_safe(info.commit[:12])}: {len(chosen)} file(s), "
        f"{human_size(total)} "
        f"({human_size(needed)} to fetch, {human_size(free)} free on {mount})",
        flush=True,
    )
    lock = threading.Lock()
    last: dict[str, float] = {}

    errors: dict[str, str | None] = {}

    def show(d: Download) -> None:
        now = time.monotonic()
        with lock:
            news = d.error != errors.get(d.id)  # a retry notice is always shown
            errors[d.id] = d.error
            if d.state == DownloadState.RUNNING and now - last.get(d.id, 0.0) < 1.0 and not news:
                return
            last[d.id] = now
        if d.state == DownloadState.RUNNING:
            line = _progress_line(d)
            if d.error:
                line += f" ({d.error})"
        elif d.state == DownloadState.DONE:
            line = f"{d.file.path}: done, verified -> {d.target}"
        elif d.state == DownloadState.FAILED:
            line = f"{d.file.path}: FAILED: {d.error}"
        else:
            line = f"{d.file.path}: {d.state.value}"
        print(_safe(line), flush=True)

    manager.add_listener(show)
    try:
        downloads = manager.enqueue(info.repo_id, info.commit, chosen)
        manager.wait([d.id for d in downloads])
    except (DownloadError, UnsafePathError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        manager.shutdown()
        print("paused: run the same command again to continue", file=sys.stderr)
        return 130
    finally:
        manager.remove_listener(show)
    failed = [d for d in manager.snapshot() if d.state != DownloadState.DONE]
    if failed:
        for d in failed:
            print(f"paitui: {_safe(f'{d.file.path}: {d.error or d.state.value}')}",
                  file=sys.stderr)
        return 1
    print(_safe(f"all {len(downloads)} file(s) in {services.settings.models_dir / info.repo_id}"))
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    """List installed files per repo with sizes and the apps that can use them."""
    from paitui.cli.common import print_json, services_from_args
    from paitui.domain.models import apps_for_file, group_by_repo, human_size

    services = services_from_args(args)
    store = services.model_store
    installed = store.installed()
    from paitui.cli.catalog import report_issues

    catalog = report_issues(services.catalog)
    repos = group_by_repo(installed)
    if args.json:
        print_json(
            {
                "store": str(store.root),
                "total_size": sum(m.size for m in installed),
                "repos": [
                    {
                        "repo": u.repo_id,
                        "size": u.size,
                        "files": [
                            {
                                **m.__dict__,
                                "apps": list(
                                    apps_for_file(catalog, m.path, [x.path for x in u.files])
                                ),
                            }
                            for m in u.files
                        ],
                    }
                    for u in repos
                ],
            }
        )
        return 0
    if not installed:
        print(f"no models in {store.root} (get one with: paitui models pull ORG/NAME FILE)")
        return 0
    for u in repos:
        print(f"{_safe(u.repo_id)}  {human_size(u.size)}")
        paths = [x.path for x in u.files]
        for m in u.files:
            apps = ", ".join(apps_for_file(catalog, m.path, paths)) or "-"
            print(_safe(f"  {m.path}  {human_size(m.size)}  {m.revision[:12]}  apps: {apps}"))
    total = sum(m.size for m in installed)
    print(f"total {human_size(total)} in {store.root}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    """Delete a repo's files (or one file) from the store, after confirmation."""
    from paitui.cli.common import services_from_args
    from paitui.domain.models import UnsafePathError, human_size

    parts = args.target.strip("/").split("/", 2)
    if len(parts) < 2:
        return _fail(f"{args.target!r}: expected ORG/NAME or ORG/NAME/FILE")
    repo_id = "/".join(parts[:2])
    name = parts[2] if len(parts) == 3 else None
    services = services_from_args(args)
    store = services.model_store
    matches = [
        m for m in store.installed() if m.repo_id == repo_id and (name is None or m.path == name)
    ]
    if not matches:
        return _fail(f"{args.target} is not installed (see: paitui models ls)")
    size = sum(m.size for m in matches)
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail(f"delete {len(matches)} file(s), {human_size(size)}? add --yes to confirm")
        answer = input(f"delete {len(matches)} file(s) of {repo_id}, {human_size(size)}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    try:
        gone = store.remove(repo_id, name)
    except UnsafePathError as exc:
        return _fail(str(exc))
    print(f"deleted {len(gone)} file(s), {human_size(sum(m.size for m in gone))} freed")
    return 0
