"""Models on the box that runs the app: its own paitui, asked over SSH, lists its store
(``paitui models ls --json``) and pulls into it (``paitui models pull``, progress streamed back).

Nothing is copied from here: the box fetches from the Hub itself, into its own store, with its
own settings (``HF_ENDPOINT``, token, ``models_dir``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from paitui.domain.fleet.hosts import HostSpec
from paitui.domain.models.holders import RemoteStore, parse_listing
from paitui.services.ssh.session import NOT_FOUND, SshResult, remote_command, ssh_run, ssh_stream

#: Seconds a remote store listing may take, connection included.
LS_TIMEOUT_S = 30.0
#: Seconds a remote pull may stay silent before it is given up (it prints at least once a
#: second per running file, and while it asks the Hub, a notice per retry).
PULL_IDLE_S = 300.0


class RemoteModelsError(Exception):
    """Why the box could not be asked, with what to do."""


def needs_ssh(spec: HostSpec) -> None:
    """RemoteModelsError unless paitui can reach the host's own paitui (ssh:// hosts only)."""
    if spec.scheme != "ssh":
        where = "this box" if spec.hostname is None else f"a {spec.scheme}:// engine"
        raise RemoteModelsError(
            f"{spec.name} is {where}: its models are reached only over ssh:// "
            f"(use plain `paitui models ...` for this box, or an ssh:// endpoint for {spec.name})"
        )


def not_installed(spec: HostSpec) -> str:
    """The message for a box without paitui on its PATH."""
    return (
        f"paitui is not installed on {spec.name} ({spec.paitui!r} not found there): install it "
        f'there, or set [hosts.{spec.name}] paitui = "/path/to/paitui" in config.toml'
    )


def _failed(spec: HostSpec, code: int, stderr: str, what: str) -> RemoteModelsError:
    if code == NOT_FOUND:
        return RemoteModelsError(not_installed(spec))
    last = stderr.strip().splitlines()[-1][:300] if stderr.strip() else ""
    return RemoteModelsError(f"{what} on {spec.name} exited {code}" + (f": {last}" if last else ""))


def remote_store(spec: HostSpec, timeout: float = LS_TIMEOUT_S) -> RemoteStore:
    """What the box's store holds (blocking, bounded); RemoteModelsError saying why not."""
    needs_ssh(spec)
    command = remote_command(spec.paitui, ["models", "ls", "--json"])
    try:
        code, out, err = ssh_run(spec, command, timeout)
    except Exception as exc:
        why = exc or type(exc).__name__
        raise RemoteModelsError(f"cannot reach {spec.name} over SSH: {why}") from None
    if code != 0:
        raise _failed(spec, code, err.decode("utf-8", errors="replace"), "paitui models ls")
    try:
        return parse_listing(spec.name, out)
    except ValueError as exc:
        raise RemoteModelsError(f"{spec.name} answered paitui models ls, but {exc}") from None


def remote_pull(
    spec: HostSpec,
    repo_id: str,
    patterns: Sequence[str],
    on_line: Callable[[str], None],
    *,
    revision: str | None = None,
    cancel: threading.Event | None = None,
    idle_timeout: float = PULL_IDLE_S,
) -> SshResult:
    """Run ``paitui models pull`` on the box into its own store (blocking), each output line to
    ``on_line``; cancelling ends the remote pull (it resumes where it stopped next time).
    RemoteModelsError when it could not run or failed."""
    needs_ssh(spec)
    args = ["models", "pull", repo_id, *patterns]
    if revision:
        args += ["--revision", revision]
    command = remote_command(spec.paitui, args)
    try:
        result = ssh_stream(spec, command, on_line, idle_timeout=idle_timeout, cancel=cancel)
    except Exception as exc:
        why = exc or type(exc).__name__
        raise RemoteModelsError(f"cannot reach {spec.name} over SSH: {why}") from None
    if result.code is None:
        if result.reason == "cancelled":
            return result
        raise RemoteModelsError(
            f"the pull on {spec.name} was cut off ({result.reason}); run the same command "
            "again to continue where it stopped"
        )
    if result.code != 0:
        raise _failed(spec, result.code, result.stderr, "paitui models pull")
    return result
