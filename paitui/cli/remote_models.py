"""``paitui models pull|ls --host NAME``: the models of the box that runs the app, in its own
store, through its own paitui over SSH (``paitui.services.models.remote``)."""

from __future__ import annotations

import argparse
import sys
import threading

from paitui.domain.fleet.hosts import HostSpec


def _safe(text: str) -> str:
    from paitui.domain.text_safety import terminal_safe

    return terminal_safe(text)


def _error(message: str) -> int:
    print(f"paitui: error: {_safe(message)}", file=sys.stderr)
    return 1


def _spec(args: argparse.Namespace) -> HostSpec | int:
    from paitui.cli.common import services_from_args
    from paitui.cli.hosts import host_list

    hosts = host_list(services_from_args(args))
    try:
        return hosts.pick(args.host)[0]
    except LookupError as exc:
        return _error(str(exc))


def pull_on_host(args: argparse.Namespace) -> int:
    """Run the pull on the box, its progress lines shown here as they come; Ctrl-C stops it
    there too (the next run resumes)."""
    from paitui.services.models.remote import RemoteModelsError, remote_pull

    spec = _spec(args)
    if isinstance(spec, int):
        return spec
    cancel = threading.Event()
    outcome: dict[str, object] = {}

    def show(line: str) -> None:
        print(f"{_safe(spec.name)}: {_safe(line)}", flush=True)

    def work() -> None:
        try:
            outcome["result"] = remote_pull(
                spec, args.repo, list(args.files), show, revision=args.revision, cancel=cancel
            )
        except RemoteModelsError as exc:
            outcome["error"] = str(exc)

    # In a thread, so that Ctrl-C lands here and closes the session (which ends the pull).
    worker = threading.Thread(target=work, name="remote-pull", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        cancel.set()
        worker.join(10)
        print(f"paused on {spec.name}: run the same command again to continue", file=sys.stderr)
        return 130
    if "error" in outcome:
        return _error(str(outcome["error"]))
    print(f"done on {_safe(spec.name)}: {_safe(args.repo)} is in its store")
    return 0


def ls_on_host(args: argparse.Namespace) -> int:
    """List the box's store (its ``paitui models ls --json``)."""
    from paitui.domain.models.records import human_size
    from paitui.services.models.remote import RemoteModelsError, remote_store

    spec = _spec(args)
    if isinstance(spec, int):
        return spec
    try:
        store = remote_store(spec)
    except RemoteModelsError as exc:
        return _error(str(exc))
    if args.json:
        from paitui.cli.common import print_json

        print_json(store.to_json())
        return 0
    if not store.repos:
        print(f"no models on {_safe(spec.name)} in {_safe(store.root)}")
        return 0
    for repo in store.repos:
        where = "  (HF cache, read-only)" if repo.origin != "store" else ""
        print(f"{_safe(repo.repo_id)}  {human_size(repo.size)}{where}")
        for f in repo.files:
            apps = ", ".join(f.apps) or "none"
            print(_safe(f"  {f.path}  {human_size(f.size)}  apps: {apps}"))
    print(f"on {_safe(spec.name)} in {_safe(store.root)}")
    return 0
