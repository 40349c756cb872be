"""The combined state of a managed app, from engine events, probe results and pull progress.

A container that is "Up" is not an app that is ready. The engine says whether the container runs;
the probe says whether the service behind it answers. This module folds both (and the pull before
the container exists) into one ``AppStatus`` per app with pure reducer functions:

    pulling -> creating -> starting -> loading -> ready <-> unhealthy
            -> stopping -> exited (with code) | crashed (non-zero exit or OOM, with last log lines)

While the engine is away every app is "unknown" (nobody can say whether it runs); the listing
made when the engine is back replaces that with what is really there.

Every function takes the previous status and returns a new one; nothing here does I/O or reads
the clock (callers pass ``now`` as epoch seconds), so the whole machine is unit-testable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from paitui.domain.engine.containers import (
    ContainerInfo,
    ContainerStatus,
    EngineEvent,
    PublishedPort,
    PullProgress,
)

# AppState lives apart so the first frame can draw states without this module's dataclasses.
from paitui.domain.fleet.states import AppState as AppState

#: States in which the container runs and the service is worth probing.
PROBED_STATES = frozenset({AppState.STARTING, AppState.LOADING, AppState.READY, AppState.UNHEALTHY})
#: States that end a run; ``paitui wait`` stops waiting on these.
FINAL_STATES = frozenset({AppState.EXITED, AppState.CRASHED, AppState.REMOVED})

#: Exit codes that mean "stopped on purpose": 0, Ctrl-C (130), SIGKILL after the stop timeout
#: (137) and SIGTERM (143). Seen only in a listing (no stop request or OOM event known),
#: anything else counts as a crash.
CLEAN_EXIT_CODES = frozenset({0, 130, 137, 143})

#: Consecutive failed probes after the app was ready before it is called unhealthy; one lost
#: probe (a GC pause, a busy GPU) must not make the badge flap.
UNHEALTHY_AFTER = 2


class ProbeOutcome(StrEnum):
    """What one probe found."""

    READY = "ready"
    LOADING = "loading"
    UNHEALTHY = "unhealthy"  # answered, but neither ready nor loading (or too slowly)
    UNREACHABLE = "unreachable"  # nothing accepts connections on the port
    ERROR = "error"  # the app itself says it failed (e.g. ai-runner {"status": "ERROR"})


@dataclass(frozen=True)
class ProbeResult:
    """The result of one health probe."""

    outcome: ProbeOutcome
    detail: str = ""
    latency: float = 0.0  # seconds
    time: float = 0.0  # epoch seconds when it finished
    status_code: int | None = None


@dataclass(frozen=True)
class AppStatus:
    """One managed app as the user should see it."""

    app_id: str
    state: AppState
    since: float  # epoch seconds when this state began
    container_id: str | None = None
    name: str | None = None
    variant: str | None = None
    image: str | None = None
    started_at: float | None = None
    exit_code: int | None = None
    oom: bool = False
    detail: str = ""
    probe: ProbeResult | None = None
    ever_ready: bool = False
    #: Consecutive probes that were not ready since the last ready one.
    failures: int = 0
    pull: PullProgress | None = None
    ports: tuple[PublishedPort, ...] = ()
    last_logs: tuple[str, ...] = ()
    #: Starts that followed a crash in a row (the engine's restart policy at work).
    crash_restarts: int = 0
    #: The state before the engine went away (while ``state`` is UNKNOWN).
    last_known: AppState | None = None

    @property
    def probed(self) -> bool:
        """Whether the service should be probed in this state."""
        return self.state in PROBED_STATES

    @property
    def final(self) -> bool:
        """Whether the run is over (exited, crashed or removed)."""
        return self.state in FINAL_STATES

    def uptime(self, now: float) -> float | None:
        """Seconds since the container started, while it runs."""
        if (
            self.started_at is None
            or self.state in FINAL_STATES
            or self.state in _BEFORE_START
            or self.state == AppState.UNKNOWN
        ):
            return None
        return max(0.0, now - self.started_at)


_BEFORE_START = frozenset({AppState.PULLING, AppState.CREATING})


def _to(prev: AppStatus, state: AppState, now: float, **changes: object) -> AppStatus:
    """A copy in ``state``; ``since`` moves only when the state really changes."""
    since = prev.since if prev.state == state else now
    return dataclasses.replace(prev, state=state, since=since, **changes)  # type: ignore[arg-type]


def new_status(app_id: str, state: AppState, now: float, **fields: object) -> AppStatus:
    """A fresh status for an app paitui has not seen yet."""
    return AppStatus(app_id=app_id, state=state, since=now, **fields)  # type: ignore[arg-type]


def exit_state(
    exit_code: int | None, *, oom: bool = False, stop_requested: bool = False
) -> AppState:
    """Exited or crashed, from how the container ended."""
    if oom:
        return AppState.CRASHED
    if stop_requested or exit_code is None:
        return AppState.EXITED
    return AppState.EXITED if exit_code in CLEAN_EXIT_CODES else AppState.CRASHED


def exit_detail(state: AppState, exit_code: int | None, oom: bool) -> str:
    """A short human description of how the container ended."""
    if oom:
        return "killed: out of memory"
    code = "" if exit_code is None else f" with code {exit_code}"
    return ("crashed" if state == AppState.CRASHED else "exited") + code


# --- pulling and creating (before the engine knows the container) ---------------------------


def on_pull(prev: AppStatus | None, app_id: str, progress: PullProgress, now: float) -> AppStatus:
    """Pull progress for the app's image."""
    if prev is None:
        return new_status(app_id, AppState.PULLING, now, image=progress.image, pull=progress)
    detail = progress.status or prev.detail
    return _to(
        prev,
        AppState.PULLING,
        now,
        pull=progress,
        image=progress.image,
        detail=detail,
        exit_code=None,
        oom=False,
        last_logs=(),
    )


def on_create_requested(
    prev: AppStatus | None, app_id: str, now: float, variant: str | None = None
) -> AppStatus:
    """The image is there; paitui is creating the container."""
    if prev is None:
        return new_status(app_id, AppState.CREATING, now, variant=variant)
    return _to(
        prev,
        AppState.CREATING,
        now,
        variant=variant or prev.variant,
        detail="",
        pull=None,
        exit_code=None,
        oom=False,
        last_logs=(),
    )


def on_launch_failed(prev: AppStatus | None, app_id: str, message: str, now: float) -> AppStatus:
    """Pull or create failed before the container ran: shown as crashed with the reason."""
    if prev is None:
        return new_status(app_id, AppState.CRASHED, now, detail=message)
    return _to(prev, AppState.CRASHED, now, detail=message, pull=None)


def on_stop_requested(prev: AppStatus, now: float) -> AppStatus:
    """The user asked to stop the app."""
    if prev.final:
        return prev
    return _to(prev, AppState.STOPPING, now, detail="stopping")


# --- the engine's view -------------------------------------------------------------------------


def from_container(info: ContainerInfo, now: float, prev: AppStatus | None = None) -> AppStatus:
    """A status from a listing of the container (at start, or when paitui returns)."""
    base = prev if prev is not None and prev.container_id == info.id else None
    fields: dict[str, object] = dict(
        container_id=info.id,
        name=info.name,
        variant=info.variant,
        image=info.image,
        ports=info.ports,
        started_at=info.started_at,
    )
    status = info.status
    if status == ContainerStatus.RESTARTING:
        # It died and the engine waits to start it again (its restart policy): a crash loop
        # (llama.cpp with a bad model exits in ~15 ms) must not read as an endless "starting".
        state = exit_state(info.exit_code)
        detail = exit_detail(state, info.exit_code, False) + "; the engine restarts it"
        fields.update(exit_code=info.exit_code, detail=detail)
    elif status == ContainerStatus.RUNNING:
        # Keep what probes found so far for the same run of the same container; the engine
        # cannot tell. Started again meanwhile (e.g. the engine restarted): start over.
        same_run = base is not None and (
            info.started_at is None
            or base.started_at is None
            or abs(info.started_at - base.started_at) <= 1
        )
        if base is not None and base.probed and same_run:
            return with_container(base, info)
        state = AppState.STARTING
        fields.update(
            exit_code=None, detail="", ever_ready=False, failures=0, probe=None, oom=False
        )
    elif status == ContainerStatus.PAUSED:
        state = AppState.PAUSED
    elif status == ContainerStatus.CREATED:
        state = AppState.CREATING
    elif status == ContainerStatus.REMOVING:
        state = AppState.STOPPING
    elif status == ContainerStatus.GONE:
        state = AppState.REMOVED
    else:  # exited, dead
        before = base.last_known or base.state if base is not None else None
        stop_requested = before in (AppState.STOPPING, AppState.EXITED)
        oom = base.oom if base is not None else False
        state = exit_state(info.exit_code, oom=oom, stop_requested=stop_requested)
        fields.update(exit_code=info.exit_code, detail=exit_detail(state, info.exit_code, oom))
    if base is not None and base.state == AppState.UNKNOWN:
        fields.setdefault("detail", "")  # the engine is back: no longer "away"
    fields["last_known"] = None
    if base is None:
        since = info.started_at if state in PROBED_STATES and info.started_at else now
        if state in FINAL_STATES and info.finished_at:
            since = info.finished_at
        return new_status(info.app_id, state, since, **fields)
    return _to(base, state, now, **fields)


def from_listing(containers: Iterable[ContainerInfo], now: float) -> dict[str, AppStatus]:
    """Each listed container's status by app id, as a first listing makes them."""
    return {info.app_id: from_container(info, now) for info in containers}


def on_event(prev: AppStatus | None, event: EngineEvent, now: float) -> AppStatus | None:
    """Fold one engine event into the app's status; None when the event says nothing about it."""
    app_id = event.app_id or (prev.app_id if prev else None)
    if app_id is None:
        return prev
    when = event.time or now
    if prev is None:
        prev = new_status(app_id, AppState.CREATING, when)
    same = {
        "container_id": event.container_id or prev.container_id,
        "name": event.name or prev.name,
        "variant": event.variant or prev.variant,
    }
    action = event.action.split(":", 1)[0].strip()  # "exec_start: sh" -> "exec_start"
    if action == "create":
        return _to(
            prev,
            AppState.CREATING,
            when,
            exit_code=None,
            oom=False,
            last_logs=(),
            detail="",
            pull=None,
            ever_ready=False,
            failures=0,
            probe=None,
            **same,
        )
    if action in ("start", "restart"):
        if (
            action == "start"
            and prev.probed
            and prev.container_id == event.container_id
            and prev.started_at is not None
            and abs(when - prev.started_at) < 1.0
        ):
            return prev  # the same start, already known from a listing that arrived first
        # After a crash the engine restarts the app: count it, and keep the crash's log lines
        # until the app is ready again (in a crash loop they would otherwise flash by).
        after_crash = prev.state == AppState.CRASHED
        return _to(
            prev,
            AppState.STARTING,
            when,
            started_at=when,
            exit_code=None,
            oom=False,
            last_logs=prev.last_logs if after_crash else (),
            crash_restarts=prev.crash_restarts + 1 if after_crash else 0,
            detail="",
            ever_ready=False,
            failures=0,
            probe=None,
            pull=None,
            **same,
        )
    if action == "unpause":
        state = AppState.READY if prev.ever_ready else AppState.STARTING
        return _to(prev, state, when, **same)
    if action == "pause":
        return _to(prev, AppState.PAUSED, when, **same)
    if action == "oom":
        return dataclasses.replace(prev, oom=True, **same)  # type: ignore[arg-type]
    if action == "kill":
        if prev.final:
            return prev
        return _to(prev, AppState.STOPPING, when, detail="stopping", **same)
    if action == "die":
        code = event.exit_code
        stop_requested = prev.state == AppState.STOPPING
        state = exit_state(code, oom=prev.oom, stop_requested=stop_requested)
        return _to(
            prev, state, when, exit_code=code, detail=exit_detail(state, code, prev.oom), **same
        )
    if action == "stop":
        # "stop" follows "die"; a container that died without a stop request stays crashed.
        if prev.final:
            return prev
        return _to(
            prev,
            AppState.EXITED,
            when,
            detail=exit_detail(AppState.EXITED, prev.exit_code, False),
            **same,
        )
    if action == "destroy":
        return _to(prev, AppState.REMOVED, when, detail="removed", **same)
    return prev


def on_engine_away(prev: AppStatus, now: float, message: str = "") -> AppStatus:
    """The engine went away (or stopped answering): the app's state is unknown until it is back.

    Removed apps stay removed; the state before is kept in ``last_known``; ``message`` replaces
    the default detail ("Docker engine away (was ready)").
    """
    if prev.state == AppState.REMOVED:
        return prev
    if prev.state == AppState.UNKNOWN:
        return dataclasses.replace(prev, detail=message) if message else prev
    detail = message or f"Docker engine away (was {prev.state})"
    return _to(prev, AppState.UNKNOWN, now, last_known=prev.state, detail=detail, pull=None)


def with_container(prev: AppStatus, info: ContainerInfo) -> AppStatus:
    """Refresh ports, image and start time from an inspect, keeping the state."""
    started = prev.started_at
    # The start event's time and the inspected StartedAt differ by milliseconds; keep the first
    # so that watchers do not take the same start for a restart.
    if info.started_at is not None and (started is None or abs(info.started_at - started) > 1):
        started = info.started_at
    return dataclasses.replace(
        prev,
        container_id=info.id,
        name=info.name,
        variant=info.variant or prev.variant,
        image=info.image,
        ports=info.ports or prev.ports,
        started_at=started,
    )


def with_logs(prev: AppStatus, lines: tuple[str, ...]) -> AppStatus:
    """Attach the last log lines (shown with a crash)."""
    return dataclasses.replace(prev, last_logs=lines)


# --- probes --------------------------------------------------------------------------------------


def on_probe(prev: AppStatus, result: ProbeResult, start_period_s: float) -> AppStatus:
    """Fold a probe result into the status; ignored unless the container runs.

    Before the app was first ready, a failing service is "starting" (nothing listens yet) or
    "loading" (something answers) until ``start_period_s`` after start, then unhealthy. After it
    was ready, ``UNHEALTHY_AFTER`` failed probes in a row make it unhealthy.
    """
    if not prev.probed:
        return prev
    now = result.time
    outcome = result.outcome
    if outcome == ProbeOutcome.READY:
        return _to(
            prev,
            AppState.READY,
            now,
            probe=result,
            ever_ready=True,
            failures=0,
            detail=result.detail,
            last_logs=(),
        )
    failures = prev.failures + 1
    if outcome == ProbeOutcome.ERROR:
        # The app's own verdict: no grace period.
        return _to(
            prev, AppState.UNHEALTHY, now, probe=result, failures=failures, detail=result.detail
        )
    if outcome == ProbeOutcome.LOADING:
        # The service says so itself (llama.cpp 503 "Loading model", ai-runner LOADING).
        overdue = _overdue(prev, now, start_period_s) and not prev.ever_ready
        state = AppState.UNHEALTHY if overdue else AppState.LOADING
        detail = result.detail if not overdue else f"still loading after {start_period_s:g} s"
        return _to(prev, state, now, probe=result, failures=failures, detail=detail)
    if prev.ever_ready:
        if failures >= UNHEALTHY_AFTER:
            return _to(
                prev, AppState.UNHEALTHY, now, probe=result, failures=failures, detail=result.detail
            )
        return dataclasses.replace(prev, probe=result, failures=failures)
    if _overdue(prev, now, start_period_s):
        detail = f"not ready after {start_period_s:g} s: {result.detail}"
        return _to(prev, AppState.UNHEALTHY, now, probe=result, failures=failures, detail=detail)
    state = AppState.STARTING if outcome == ProbeOutcome.UNREACHABLE else AppState.LOADING
    if prev.state == AppState.LOADING and state == AppState.STARTING:
        state = AppState.LOADING  # it answered before; a lost connection is not a restart
    return _to(prev, state, now, probe=result, failures=failures, detail=result.detail)


def _overdue(prev: AppStatus, now: float, start_period_s: float) -> bool:
    started = prev.started_at if prev.started_at is not None else prev.since
    return now - started > start_period_s


def format_uptime(seconds: float | None) -> str:
    """``42s``, ``3m``, ``2h 07m``, ``3d 4h``; empty when not running.

    Seconds only in the first minute: a table of uptimes then changes once a minute, not once a
    second, which is most of what an idle Running screen would otherwise redraw.
    """
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def no_health_check(prev: AppStatus, now: float) -> AppStatus:
    """An app without a health check and without ports is ready once it runs."""
    if prev.state != AppState.STARTING:
        return prev
    return _to(prev, AppState.READY, now, ever_ready=True, detail="running (no health check)")
