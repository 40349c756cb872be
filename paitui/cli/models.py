"""``paitui models``: search the hub, pull files into the shared store, list and remove them."""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from paitui.cli.common import Subparsers
    from paitui.domain.fleet.status import AppStatus
    from paitui.domain.models.records import Download, InstalledModel, RepoFile, RepoInfo
    from paitui.services.registry import Services


_HOST_HELP = (
    "{} the store of that ssh:// host (paitui hosts lists them), through the paitui installed there"
)


def register(subparsers: Subparsers) -> None:
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
    p.add_argument("--host", metavar="NAME", help=_HOST_HELP.format("pull into"))
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("ls", help="list installed model files")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--host", metavar="NAME", help=_HOST_HELP.format("list"))
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("rm", help="delete a model (a whole repo or one file)")
    p.add_argument("target", metavar="REPO[/FILE]")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_rm)

    p = sub.add_parser(
        "kind", help="set a model file's type (which apps use it, where it appears in them)"
    )
    p.add_argument("target", metavar="REPO/FILE", help="a file of the store or the HF cache")
    p.add_argument("kind", nargs="?", metavar="KIND", help=f"one of: {', '.join(_kinds())}")
    p.add_argument("--auto", action="store_true", help="forget the choice: decide it again")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_kind)

    p = sub.add_parser(
        "import",
        help="give a model to a running app's own store (Ollama, InvokeAI)",
        description="Send a GGUF of the store (with its other shards and projectors) to a "
        "running app that keeps its own model store, saying what it costs on disk "
        "and asking first (Ollama); or register store files in place, without a "
        "copy (InvokeAI: a diffusers repo as one model, else each weight file).",
    )
    p.add_argument("app", metavar="APP", help="a running app with its own store (ollama, invokeai)")
    p.add_argument("target", metavar="REPO[/FILE]", help="a model in the store (or the HF cache)")
    p.add_argument("--name", help="the model's name in the app (default: from the file name)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_import)

    from paitui.cli.models_fit import register_fit

    register_fit(sub)


def _kinds() -> list[str]:
    from paitui.domain.models.kinds import ModelKind

    return [k.value for k in ModelKind]


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
    from paitui.domain.models.records import human_size
    from paitui.services.models.hub import HubError

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
        f for f in files if any(f.path == p or fnmatch.fnmatchcase(f.path, p) for p in patterns)
    ]


def _progress_line(d: Download) -> str:
    from paitui.domain.models.records import human_size

    pct = f"{100 * d.fraction:5.1f}%" if d.fraction is not None else "    ?"
    eta = f"ETA {d.eta_seconds:.0f}s" if d.eta_seconds is not None else ""
    return (
        f"{d.file.path}: {pct} {human_size(d.bytes_done)}/{human_size(d.bytes_total)} "
        f"{human_size(d.speed)}/s {eta}".rstrip()
    )


def cmd_pull(args: argparse.Namespace) -> int:
    """Download files of a repo, showing progress; resumable and verified."""
    from paitui.cli.common import services_from_args

    if getattr(args, "host", None):
        from paitui.cli.remote_models import pull_on_host

        return pull_on_host(args)
    return pull_files(services_from_args(args), args.repo, list(args.files), args.revision)


def pull_files(
    services: Services,
    repo_id: str,
    patterns: list[str],
    revision: str | None = None,
    *,
    out: TextIO | None = None,
    info: RepoInfo | None = None,
) -> int:
    """``models pull``: fetch files of a repo matching ``patterns`` (all if none) with progress
    lines on ``out`` (stdout); 0 when all are installed and verified."""
    from paitui.cli.common import hangup_as_interrupt
    from paitui.domain.models.records import (
        DownloadState,
        RepoFile,
        UnsafePathError,
        human_size,
        repo_facts,
    )
    from paitui.services.models.downloads import DownloadError
    from paitui.services.models.hub import HubError
    from paitui.services.models.store import free_space

    stream = out or sys.stdout

    def notice(text: str) -> None:
        print(f"paitui: {text}", file=sys.stderr, flush=True)

    if info is None:
        try:
            info = services.hub.repo_info(repo_id, revision=revision, on_retry=notice)
        except HubError as exc:
            return _fail(str(exc))
    services.model_store.remember_repo(info.repo_id, repo_facts(info))
    if info.skipped:
        # ascii(): a hostile name must not write escape sequences to the terminal.
        shown = ", ".join(ascii(n) for n in info.skipped[:5])
        more = f" and {len(info.skipped) - 5} more" if len(info.skipped) > 5 else ""
        notice(
            f"warning: skipped {len(info.skipped)} file(s) of {info.repo_id} whose names are "
            f"unsafe as paths: {shown}{more}"
        )
    chosen = select_files(info.files, patterns)
    if not chosen:
        if select_files(tuple(RepoFile(n) for n in info.skipped), patterns):
            return _fail(f"{' '.join(patterns)}: only files with unsafe names match (skipped)")
        names = ", ".join(f.path for f in info.files[:12]) or "none"
        return _fail(f"no file of {repo_id} matches {' '.join(patterns)} (files: {names})")
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
        file=stream,
    )
    lock = threading.Lock()
    last: dict[str, float] = {}

    errors: dict[str, str | None] = {}
    gone = threading.Event()

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
        try:
            print(_safe(line), flush=True, file=stream)
        except OSError:
            # The terminal is gone (an SSH session cut without a hang-up signal): stop as on
            # Ctrl-C, so the partials are kept, rather than fail or go on unwatched.
            gone.set()

    manager.add_listener(show)
    try:
        with hangup_as_interrupt():
            downloads = manager.enqueue(info.repo_id, info.commit, chosen)
            while not manager.wait([d.id for d in downloads], timeout=0.25):
                if gone.is_set():
                    raise KeyboardInterrupt
    except (DownloadError, UnsafePathError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        manager.shutdown()  # each partial is checkpointed: the next pull continues it
        with contextlib.suppress(OSError):
            print("paused: run the same command again to continue", file=sys.stderr)
        return 130
    finally:
        manager.remove_listener(show)
    failed = [d for d in manager.snapshot() if d.state != DownloadState.DONE]
    if failed:
        for d in failed:
            print(f"paitui: {_safe(f'{d.file.path}: {d.error or d.state.value}')}", file=sys.stderr)
        return 1
    print(
        _safe(f"all {len(downloads)} file(s) in {services.settings.models_dir / info.repo_id}"),
        file=stream,
    )
    return 0


def _kind_json(m: InstalledModel) -> dict[str, Any]:
    return {
        "kind": m.effective_kind,
        "kind_source": "user" if m.user_kind else (m.kind_source or "none"),
        "kind_why": "set by the user" if m.user_kind else m.kind_why,
        "auto_kind": m.kind or "unknown",
    }


def cmd_ls(args: argparse.Namespace) -> int:
    """List the store's files and the user's HF cache per repo: sizes, types, usable apps."""
    from paitui.cli.common import print_json, services_from_args
    from paitui.domain.models.kinds import ModelKind
    from paitui.domain.models.records import ORIGIN_HF_CACHE, group_by_repo, human_size
    from paitui.services.models.library import library_files, library_models, user_hf_cache

    if getattr(args, "host", None):
        from paitui.cli.remote_models import ls_on_host

        return ls_on_host(args)
    services = services_from_args(args)
    store = services.model_store
    from paitui.cli.catalog import report_issues

    catalog = report_issues(services.catalog)
    cache = user_hf_cache()
    files = library_files(catalog, library_models(store, cache or False))
    apps = {(f.model.origin, f.model.repo_id, f.model.path): f.apps for f in files}
    models = [f.model for f in files]
    own = [m for m in models if not m.read_only]
    groups = [
        (origin, u)
        for origin in ("store", ORIGIN_HF_CACHE)
        for u in group_by_repo(m for m in models if m.origin == origin)
    ]
    if args.json:
        print_json(
            {
                "store": str(store.root),
                "hf_cache": str(cache) if cache else None,
                "total_size": sum(m.size for m in own),
                "repos": [
                    {
                        "repo": u.repo_id,
                        "origin": origin,
                        "read_only": origin == ORIGIN_HF_CACHE,
                        "size": u.size,
                        "files": [
                            {
                                **m.__dict__,
                                **_kind_json(m),
                                "read_only": m.read_only,
                                "apps": list(apps[(m.origin, m.repo_id, m.path)]),
                                # A type no app reads (a transformers shard, a diffusion GGUF).
                                "unused": not apps[(m.origin, m.repo_id, m.path)],
                            }
                            for m in u.files
                        ],
                    }
                    for origin, u in groups
                ],
            }
        )
        return 0
    if not models:
        print(f"no models in {store.root} (get one with: paitui models pull ORG/NAME FILE)")
        return 0
    for origin, u in groups:
        where = "  (HF cache, read-only)" if origin == ORIGIN_HF_CACHE else ""
        print(f"{_safe(u.repo_id)}  {human_size(u.size)}{where}")
        for m in u.files:
            used = ", ".join(apps[(m.origin, m.repo_id, m.path)]) or "none: no app reads this type"
            kind = ModelKind(m.effective_kind).label
            why = "set by you" if m.user_kind else (m.kind_why or "no evidence")
            print(
                _safe(
                    f"  {m.path}  {human_size(m.size)}  {m.revision[:12]}  type: {kind} ({why})"
                    f"  apps: {used}"
                )
            )
    print(f"total {human_size(sum(m.size for m in own))} in {store.root}")
    if cache is not None and len(own) < len(models):
        print(
            f"plus {human_size(sum(m.size for m in models if m.read_only))} in the HF cache "
            f"{cache} (read-only, given to apps without a copy)"
        )
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    """Delete a repo's files (or one file) from the store, after confirmation."""
    from paitui.cli.common import services_from_args
    from paitui.domain.models.records import UnsafePathError, human_size

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
        from paitui.services.models.library import cache_models, find_in_library, user_hf_cache

        cache = user_hf_cache()
        if cache is not None and find_in_library(cache_models(cache), args.target):
            return _fail(
                f"{args.target} is in your Hugging Face cache ({cache}), which paitui only "
                "reads: delete it with huggingface_hub (hf cache delete) if you mean to"
            )
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


def cmd_kind(args: argparse.Namespace) -> int:
    """Set (or with ``--auto`` clear) the user's type for one library file."""
    from paitui.cli.common import print_json, services_from_args
    from paitui.domain.models.kinds import ModelKind
    from paitui.services.models.library import find_in_library, library_models

    if (args.kind is None) == (not args.auto):
        return _fail("give a KIND, or --auto to let paitui decide again", 2)
    if args.kind is not None and args.kind not in _kinds():
        return _fail(f"{args.kind!r} is not a model type; one of: {', '.join(_kinds())}", 2)
    services = services_from_args(args)
    store = services.model_store
    models = library_models(store)
    found = [
        m
        for m in find_in_library(models, args.target)
        if f"{m.repo_id}/{m.path}" == args.target.strip("/")
    ]
    if not found:
        return _fail(f"{args.target} is no file of the library (see: paitui models ls)")
    model = found[0]
    try:
        store.set_user_kind(model.repo_id, model.path, args.kind, hf_cache=model.read_only)
    except (KeyError, OSError) as exc:
        return _fail(f"cannot record the type of {args.target}: {exc}")
    from paitui.services.models.library import library_files

    entries = library_files(services.catalog, library_models(store))
    entry = next(
        e for e in entries
        if (e.model.origin, e.model.repo_id, e.model.path)
        == (model.origin, model.repo_id, model.path)
    )  # fmt: skip
    after = entry.model
    if args.json:
        print_json(
            {"repo": after.repo_id, "path": after.path, "origin": after.origin,
             **_kind_json(after), "apps": list(entry.apps)}
        )  # fmt: skip
        return 0
    label = ModelKind(after.effective_kind).label
    how = "set by you" if after.user_kind else f"automatic: {after.kind_why or 'no evidence'}"
    print(_safe(f"{after.repo_id}/{after.path}: {label} ({how})"))
    return 0


def _import_files(models: list[InstalledModel], target: str) -> list[InstalledModel] | str:
    """The GGUF ``target`` names with the files that go with it (shards, projectors), or why not."""
    from paitui.domain.models.kinds import group_model_files
    from paitui.services.models.library import find_in_library

    named = find_in_library(models, target)
    if not named:
        return f"{target} is not installed (see: paitui models ls)"
    origin = named[0].origin
    repo = [m for m in models if m.repo_id == named[0].repo_id and m.origin == origin]
    by_path = {m.path: m for m in repo}
    wanted = {m.path for m in named if m.path.lower().endswith(".gguf")}
    groups = [
        g for g in group_model_files(p for p in by_path if p.lower().endswith(".gguf"))
        if wanted.intersection(g.shards) and not (
            len(g.shards) == 1 and "mmproj" in g.main.lower() and len(wanted) > 1
        )
    ]  # fmt: skip
    if not groups:
        return f"{target} holds no GGUF model to import"
    if len(groups) > 1:
        names = ", ".join(g.main for g in groups[:12])
        return f"{target} holds {len(groups)} GGUF models: {names}; name one as REPO/FILE"
    (group,) = groups
    if group.missing:
        return f"{group.main}: shard(s) {list(group.missing)} are not installed; pull them first"
    return [by_path[p] for p in (*group.shards, *group.projectors)]


def _running_url(services: Services, app_id: str) -> str:
    """The base URL of a running managed app's first port; ValueError saying why there is none."""
    import asyncio

    from paitui.domain.fleet.status import AppState
    from paitui.services.engine.deadline import deadline
    from paitui.services.fleet.tracker import Fleet

    fleet = Fleet(services.engine, services.catalog, services.settings)

    async def snapshot() -> list[AppStatus]:
        try:
            with deadline(10.0):
                return list(await fleet.snapshot())
        finally:
            await services.engine.close()

    status = next((s for s in asyncio.run(snapshot()) if s.app_id == app_id), None)
    if status is None or status.state not in (
        AppState.READY,
        AppState.LOADING,
        AppState.STARTING,
        AppState.UNHEALTHY,
    ):
        state = status.state.value if status is not None else "not started"
        raise ValueError(f"{app_id} is not running ({state}): start it with paitui start {app_id}")
    app = services.catalog.apps[app_id]
    first = app.ports[0].container if app.ports else None
    port = next((p for p in status.ports if p.container_port == first), None)
    if port is None:
        raise ValueError(f"{app_id} publishes no port paitui can reach")
    host = port.host_ip if port.host_ip not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port.host_port}"


def cmd_import(args: argparse.Namespace) -> int:
    """Import a GGUF into a running app's own store (Ollama), after showing the disk cost."""
    from paitui.cli.common import print_json, services_from_args
    from paitui.domain.engine.errors import EngineError
    from paitui.domain.models.records import human_size
    from paitui.services.models.library import library_models
    from paitui.services.models.ollama_import import (
        OllamaImportError,
        import_cost,
        import_gguf,
        ollama_name,
    )

    services = services_from_args(args)
    app = services.catalog.apps.get(args.app)
    if app is None or app.mounts.models is None or app.mounts.models.layout != "app-store":
        stores = sorted(
            a.id for a in services.catalog.apps.values()
            if a.mounts.models is not None and a.mounts.models.layout == "app-store"
        )  # fmt: skip
        return _fail(
            f"{args.app!r} keeps no model store of its own to import into; "
            f"apps that do: {', '.join(stores) or 'none'}",
            2,
        )
    if app.mounts.models.importer == "invokeai":
        return _import_invokeai(args, services, app.id)
    files = _import_files(library_models(services.model_store), args.target)
    if isinstance(files, str):
        return _fail(files)
    name = args.name or ollama_name(files[0])
    data_dir = services.settings.apps_dir / app.id
    cost = import_cost(files, data_dir)
    free = human_size(cost.free_bytes) if cost.free_bytes is not None else "unknown"
    summary = (
        f"import {len(files)} file(s) of {files[0].repo_id} into {app.id} as {name}: "
        f"{human_size(cost.final_bytes)} in its store (up to {human_size(cost.peak_bytes)} while "
        f"it is created), {free} free in {data_dir}"
    )
    if cost.fits is False:
        return _fail(f"{summary}: not enough space; free some or import a smaller file")
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail(f"{summary}; add --yes to confirm")
        answer = input(_safe(summary) + "? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing imported")
            return 1
    elif not args.json:
        print(_safe(summary), flush=True)
    try:
        url = _running_url(services, app.id)
        import_gguf(url, files, name)
    except (ValueError, EngineError, OllamaImportError) as exc:
        return _fail(str(exc))
    if args.json:
        print_json(
            {"app": app.id, "name": name, "url": url, "files": [m.path for m in files],
             "bytes": cost.final_bytes, "peak_bytes": cost.peak_bytes,
             "free_bytes": cost.free_bytes}
        )  # fmt: skip
        return 0
    print(_safe(f"imported {name} into {app.id}"))
    return 0


def _import_invokeai(args: argparse.Namespace, services: Services, app_id: str) -> int:
    """Register store files in a running InvokeAI in place: no copy, so nothing to confirm."""
    from paitui.cli.common import print_json
    from paitui.domain.engine.errors import EngineError
    from paitui.services.models.invokeai_import import (
        InvokeImportError,
        install_sources,
        register_in_place,
    )
    from paitui.services.models.library import cache_models, find_in_library, user_hf_cache

    app = services.catalog.apps[app_id]
    assert app.mounts.models is not None
    own = services.model_store.installed()
    named = find_in_library(own, args.target)
    if not named:
        cache = user_hf_cache()
        if cache is not None and find_in_library(cache_models(cache), args.target):
            return _fail(
                f"{args.target} is in your Hugging Face cache, which {app_id} is not given: "
                f"pull it into the store first (paitui models pull {args.target.split('/')[0]}/"
                f"{args.target.split('/')[1]})"
            )
        return _fail(f"{args.target} is not installed (see: paitui models ls)")
    repo = [m for m in own if m.repo_id == named[0].repo_id]
    sources = install_sources(repo, named, app.mounts.models.path)
    if not sources:
        return _fail(
            f"{args.target} holds no image model file {app_id} reads: name one as REPO/FILE"
        )

    def say(source: str) -> None:
        if not args.json:
            print(_safe(f"registering {source} in {app_id} (in place, no copy)"), flush=True)

    try:
        url = _running_url(services, app_id)
        done = register_in_place(url, sources, name=args.name, on_source=say)
    except (ValueError, EngineError, InvokeImportError) as exc:
        return _fail(str(exc))
    if args.json:
        print_json(
            {"app": app_id, "url": url,
             "models": [{"source": r.source, "outcome": r.outcome, "name": r.name}
                        for r in done]}
        )  # fmt: skip
        return 0
    for r in done:
        what = "was already registered" if r.outcome == "already" else "registered"
        print(_safe(f"{r.source} {what}" + (f" as {r.name}" if r.name else "")))
    return 0


def resolve_start_model(
    services: Services,
    app_id: str,
    model: str | None,
    model_id: str | None,
    *,
    pull: bool,
) -> tuple[str | None, str | None] | int:
    """``--model``/``--model-id`` as the planner takes them: ``REPO[:FILE]`` becomes the installed
    file's path (the store's, else the HF cache's), pulled first when ``pull`` and it is in
    neither; a plain path stays as it is. An exit status when it cannot be had (said why)."""
    from paitui.domain.models.records import (
        ModelChoiceError,
        UnsafePathError,
        choose_model,
        parse_model_spec,
    )
    from paitui.services.models.hub import HubError
    from paitui.services.models.library import library_models

    app = services.catalog.apps[app_id]
    if model is not None:
        try:
            spec = parse_model_spec(model)
        except UnsafePathError as exc:
            return _fail(f"--model {model}: {exc} (REPO:FILE or a file in the models store)", 2)
        if spec is not None and (services.settings.models_dir / model).is_file():
            spec = None  # a file of the store after all
        if spec is not None:
            formats = app.needs.model_file or (
                app.mounts.models.formats if app.mounts.models else ()
            )
            library = library_models(services.model_store)
            for origin in ("store", "hf-cache"):
                have = {
                    m.path: m for m in library if m.repo_id == spec.repo_id and m.origin == origin
                }
                try:
                    group = choose_model({p: m.size for p, m in have.items()}, formats, spec)
                except ModelChoiceError as exc:
                    if any(
                        any(f in m.formats for f in formats)
                        and (spec.pattern is None or m.path == spec.pattern)
                        for m in have.values()
                    ):
                        return _fail(str(exc))  # installed, but ambiguous: ask, do not pull
                    continue
                if group.complete:
                    main = have[group.main]
                    rel = f"{main.repo_id}/{main.path}"
                    return (rel if origin == "store" else main.store_path), model_id
            if not pull:
                return _fail(
                    f"{model} is not installed: paitui start pulls it, or run paitui models "
                    f"pull {spec.repo_id}" + (f" '{spec.pattern}'" if spec.pattern else "")
                )
            try:
                info = services.hub.repo_info(spec.repo_id)
                group = choose_model({f.path: f.size for f in info.files}, formats, spec)
            except (HubError, ModelChoiceError) as exc:
                return _fail(f"cannot pull {model}: {exc}")
            print(f"paitui: {model} is not installed: pulling it first", file=sys.stderr)
            wanted = list(group.shards)
            if app.mounts.models is not None and app.mounts.models.projector_arg:
                from paitui.domain.catalog.companions import pick_projector

                projector = pick_projector(group.projectors)  # it travels with its GGUF
                wanted += [projector] if projector else []
            status = pull_files(services, info.repo_id, wanted, info=info, out=sys.stderr)
            if status != 0:
                return _fail(f"{app_id} not started: the pull of {model} failed", status)
            model = f"{info.repo_id}/{group.main}"
    if model_id is not None and pull:
        library = library_models(services.model_store)
        if not any(m.repo_id == model_id for m in library):
            print(f"paitui: {model_id} is not installed: pulling it first", file=sys.stderr)
            status = pull_files(services, model_id, [], out=sys.stderr)
            if status != 0:
                return _fail(f"{app_id} not started: the pull of {model_id} failed", status)
    return model, model_id


def start_companions(
    services: Services, app_id: str, model: str | None
) -> tuple[str | None, str | None]:
    """``model`` as the app is given it (shard 1 of a split set) and the projector beside it
    in the store or the HF cache, for apps that take one; a file paitui does not know as is."""
    from paitui.domain.catalog.companions import model_companions
    from paitui.services.models.library import library_models

    if model is None:
        return None, None
    library = library_models(services.model_store)

    def key(m: InstalledModel) -> str:
        return m.store_path if m.read_only else f"{m.repo_id}/{m.path}"

    chosen = next((m for m in library if key(m) == model.strip("/") or m.store_path == model), None)
    if chosen is None:
        return model, None
    repo = [m for m in library if m.repo_id == chosen.repo_id and m.origin == chosen.origin]
    found = model_companions(
        key(chosen), [key(m) for m in repo], {key(m): m.effective_kind for m in repo}
    )
    app = services.catalog.apps[app_id]
    takes = app.mounts.models is not None and app.mounts.models.projector_arg is not None
    return found.main, found.projector if takes else None
