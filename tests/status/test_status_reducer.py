"""The combined app state machine: engine events, probe results and pull progress -> AppStatus."""

from __future__ import annotations

from paitui.domain.engine.containers import (
    ContainerInfo,
    ContainerStatus,
    EngineEvent,
    PublishedPort,
    PullProgress,
)
from paitui.domain.fleet import status as st
from paitui.domain.fleet.status import AppState, AppStatus, ProbeOutcome, ProbeResult

APP = "llama"
CID = "c0ffee"


def ev(action: str, t: float, code: int | None = None, cid: str = CID) -> EngineEvent:
    return EngineEvent(action, cid, APP, "cpu", "paitui-llama", code, t)


def probe(outcome: ProbeOutcome, t: float, detail: str = "") -> ProbeResult:
    return ProbeResult(outcome, detail or outcome.value, 0.01, t)


def started(t: float = 100.0) -> AppStatus:
    s = st.on_event(None, ev("create", t - 1), t - 1)
    assert s is not None
    s = st.on_event(s, ev("start", t), t)
    assert s is not None
    return s


def test_pull_create_start_load_ready_sequence() -> None:
    s: AppStatus | None  # on_event may answer None
    s = st.on_pull(None, APP, PullProgress(image="img", downloaded=10, total=100), 1.0)
    assert s.state == AppState.PULLING and s.pull is not None and s.pull.total == 100
    s = st.on_pull(s, APP, PullProgress(image="img", downloaded=100, total=100, done=True), 2.0)
    assert s.state == AppState.PULLING and s.since == 1.0  # same state keeps its start time
    s = st.on_create_requested(s, APP, 3.0, "cpu")
    assert s.state == AppState.CREATING and s.pull is None and s.since == 3.0
    s = st.on_event(s, ev("create", 3.1), 3.1)
    assert s is not None and s.state == AppState.CREATING and s.container_id == CID
    s = st.on_event(s, ev("start", 3.5), 3.5)
    assert s is not None and s.state == AppState.STARTING and s.started_at == 3.5
    s = st.on_probe(s, probe(ProbeOutcome.UNREACHABLE, 4.0), 60)
    assert s.state == AppState.STARTING
    s = st.on_probe(s, probe(ProbeOutcome.LOADING, 5.0, "loading (HTTP 503)"), 60)
    assert s.state == AppState.LOADING and s.detail == "loading (HTTP 503)"
    s = st.on_probe(s, probe(ProbeOutcome.READY, 9.0), 60)
    assert s.state == AppState.READY and s.ever_ready and s.failures == 0
    assert s.uptime(13.5) == 10.0


def test_unanswered_after_start_period_is_unhealthy() -> None:
    s = started(100.0)
    s = st.on_probe(s, probe(ProbeOutcome.UNREACHABLE, 104.0), 5.0)
    assert s.state == AppState.STARTING
    s = st.on_probe(s, probe(ProbeOutcome.UNHEALTHY, 104.5, "HTTP 500"), 5.0)
    assert s.state == AppState.LOADING  # it answers, not yet ready, still in its start period
    s = st.on_probe(s, probe(ProbeOutcome.UNREACHABLE, 104.8), 5.0)
    assert s.state == AppState.LOADING  # answered before: a lost connection is not "starting"
    s = st.on_probe(s, probe(ProbeOutcome.UNHEALTHY, 105.5, "HTTP 500"), 5.0)
    assert s.state == AppState.UNHEALTHY and "not ready after 5 s" in s.detail


def test_loading_too_long_is_unhealthy_but_ready_later_recovers() -> None:
    s = started(0.0)
    s = st.on_probe(s, probe(ProbeOutcome.LOADING, 11.0), 10.0)
    assert s.state == AppState.UNHEALTHY and "still loading" in s.detail
    s = st.on_probe(s, probe(ProbeOutcome.READY, 12.0), 10.0)
    assert s.state == AppState.READY


def test_ready_app_needs_two_failures_to_turn_unhealthy() -> None:
    s = st.on_probe(started(0.0), probe(ProbeOutcome.READY, 1.0), 10.0)
    s = st.on_probe(s, probe(ProbeOutcome.UNREACHABLE, 31.0), 10.0)
    assert s.state == AppState.READY and s.failures == 1
    s = st.on_probe(s, probe(ProbeOutcome.UNREACHABLE, 32.0, "refused"), 10.0)
    assert s.state == AppState.UNHEALTHY and s.detail == "refused"
    s = st.on_probe(s, probe(ProbeOutcome.READY, 33.0), 10.0)
    assert s.state == AppState.READY and s.failures == 0


def test_app_reported_error_is_unhealthy_at_once() -> None:
    s = st.on_probe(started(0.0), probe(ProbeOutcome.ERROR, 1.0, "the app reports an error"), 600)
    assert s.state == AppState.UNHEALTHY


def test_probe_results_are_ignored_unless_running() -> None:
    s = st.on_event(started(0.0), ev("die", 5.0, 1), 5.0)
    assert s is not None and s.state == AppState.CRASHED
    assert st.on_probe(s, probe(ProbeOutcome.READY, 6.0), 10) is s


def test_user_stop_is_exited_even_with_sigkill_code() -> None:
    s: AppStatus | None  # on_event may answer None
    s = st.on_probe(started(0.0), probe(ProbeOutcome.READY, 1.0), 10.0)
    s = st.on_stop_requested(s, 2.0)
    assert s.state == AppState.STOPPING
    s = st.on_event(s, ev("kill", 2.01), 2.01)
    assert s is not None and s.state == AppState.STOPPING and s.since == 2.0
    s = st.on_event(s, ev("die", 3.0, 137), 3.0)
    assert s is not None and s.state == AppState.EXITED and s.exit_code == 137
    assert s.detail == "exited with code 137"
    s = st.on_event(s, ev("stop", 3.01), 3.01)
    assert s is not None and s.state == AppState.EXITED and s.uptime(4.0) is None


def test_external_docker_stop_goes_through_stopping() -> None:
    s = st.on_event(started(0.0), ev("kill", 5.0), 5.0)
    assert s is not None and s.state == AppState.STOPPING
    s = st.on_event(s, ev("die", 5.1, 143), 5.1)
    assert s is not None and s.state == AppState.EXITED


def test_nonzero_exit_without_stop_is_a_crash_and_stop_event_keeps_it() -> None:
    s = st.on_event(started(0.0), ev("die", 5.0, 3), 5.0)
    assert s is not None and s.state == AppState.CRASHED and s.detail == "crashed with code 3"
    s = st.on_event(s, ev("stop", 5.1), 5.1)
    assert s is not None and s.state == AppState.CRASHED
    s = st.with_logs(s, ("line 1", "fatal: no model"))
    assert s.last_logs[-1] == "fatal: no model"


def test_zero_exit_without_stop_is_exited() -> None:
    s = st.on_event(started(0.0), ev("die", 5.0, 0), 5.0)
    assert s is not None and s.state == AppState.EXITED


def test_oom_makes_any_exit_a_crash() -> None:
    s = st.on_event(started(0.0), ev("oom", 4.0), 4.0)
    assert s is not None and s.oom and s.state == AppState.STARTING
    s = st.on_event(s, ev("die", 4.1, 137), 4.1)
    assert s is not None and s.state == AppState.CRASHED and "out of memory" in s.detail


def test_restart_after_crash_counts_and_keeps_the_crash_logs_until_ready() -> None:
    s = st.on_event(started(0.0), ev("die", 5.0, 1), 5.0)
    assert s is not None
    s = st.with_logs(s, ("boom",))
    s = st.on_event(s, ev("start", 6.0), 6.0)
    assert s is not None and s.state == AppState.STARTING
    assert s.exit_code is None and s.started_at == 6.0
    assert s.last_logs == ("boom",) and s.crash_restarts == 1
    s = st.on_event(s, ev("die", 7.0, 1), 7.0)
    assert s is not None
    s = st.on_event(s, ev("start", 8.0), 8.0)
    assert s is not None and s.crash_restarts == 2
    s = st.on_probe(s, probe(ProbeOutcome.READY, 9.0), 60)
    assert s.last_logs == () and s.crash_restarts == 2
    s = st.on_event(st.on_stop_requested(s, 10.0), ev("die", 10.1, 0), 10.1)
    assert s is not None
    s = st.on_event(s, ev("start", 11.0), 11.0)
    assert s is not None and s.crash_restarts == 0  # a start after a stop is no crash restart


def test_pause_unpause_and_destroy() -> None:
    s = st.on_probe(started(0.0), probe(ProbeOutcome.READY, 1.0), 10.0)
    s2 = st.on_event(s, ev("pause", 2.0), 2.0)
    assert s2 is not None and s2.state == AppState.PAUSED and not s2.probed
    s3 = st.on_event(s2, ev("unpause", 3.0), 3.0)
    assert s3 is not None and s3.state == AppState.READY
    s4 = st.on_event(s3, ev("destroy", 4.0), 4.0)
    assert s4 is not None and s4.state == AppState.REMOVED and s4.final


def test_unknown_actions_change_nothing_and_anonymous_events_are_dropped() -> None:
    s = started(0.0)
    assert st.on_event(s, ev("exec_start: sh -c true", 2.0), 2.0) is s
    assert st.on_event(None, EngineEvent("start", "x"), 1.0) is None


def test_launch_failure_is_a_crash_with_the_reason() -> None:
    s = st.on_pull(None, APP, PullProgress(image="img"), 1.0)
    s = st.on_launch_failed(s, APP, "image not found: img", 2.0)
    assert s.state == AppState.CRASHED and s.detail == "image not found: img" and s.final


def info(
    status: ContainerStatus,
    code: int | None = None,
    started: float | None = 50.0,
    finished: float | None = None,
) -> ContainerInfo:
    return ContainerInfo(
        CID,
        "paitui-llama",
        APP,
        "cpu",
        "img",
        status,
        code,
        started,
        finished,
        (PublishedPort(8080, "tcp", "127.0.0.1", 18080),),
    )


def test_from_listing() -> None:
    s = st.from_container(info(ContainerStatus.RUNNING), 100.0)
    assert s.state == AppState.STARTING and s.since == 50.0 and s.ports[0].host_port == 18080
    assert st.from_container(info(ContainerStatus.EXITED, 0), 100.0).state == AppState.EXITED
    assert st.from_container(info(ContainerStatus.EXITED, 143), 100.0).state == AppState.EXITED
    crashed = st.from_container(info(ContainerStatus.EXITED, 2, finished=70.0), 100.0)
    assert crashed.state == AppState.CRASHED and crashed.since == 70.0
    assert st.from_container(info(ContainerStatus.PAUSED), 100.0).state == AppState.PAUSED
    assert st.from_container(info(ContainerStatus.CREATED), 100.0).state == AppState.CREATING


def test_listing_keeps_probe_state_of_the_same_run() -> None:
    ready = st.on_probe(started(50.0), probe(ProbeOutcome.READY, 51.0), 10.0)
    again = st.from_container(info(ContainerStatus.RUNNING, started=50.002), 100.0, ready)
    assert again.state == AppState.READY and again.ports  # ports filled in, state kept
    # Started again while paitui was not looking (the engine restarted): probe from scratch.
    rerun = st.from_container(info(ContainerStatus.RUNNING, started=90.0), 100.0, ready)
    assert rerun.state == AppState.STARTING and rerun.started_at == 90.0
    assert not rerun.ever_ready and rerun.probe is None


def test_no_health_check_is_ready_when_running() -> None:
    s = st.no_health_check(started(0.0), 1.0)
    assert s.state == AppState.READY
    crashed = st.on_event(started(0.0), ev("die", 1.0, 1), 1.0)
    assert crashed is not None and st.no_health_check(crashed, 2.0) is crashed


def test_late_start_event_of_a_known_start_changes_nothing() -> None:
    listed = st.from_container(info(ContainerStatus.RUNNING, started=50.0), 50.2)
    ready = st.on_probe(listed, probe(ProbeOutcome.READY, 50.3), 10.0)
    assert st.on_event(ready, ev("start", 50.001), 50.4) is ready
    later = st.on_event(ready, ev("start", 80.0), 80.0)
    assert later is not None and later.state == AppState.STARTING


def test_inspected_start_time_does_not_look_like_a_restart() -> None:
    s = started(50.0)  # from the start event
    same = st.with_container(s, info(ContainerStatus.RUNNING, started=50.004))
    assert same.started_at == 50.0 and same.ports
    later = st.with_container(s, info(ContainerStatus.RUNNING, started=90.0))
    assert later.started_at == 90.0


def _listed(
    status: ContainerStatus, started_at: float, exit_code: int | None = None
) -> ContainerInfo:
    return ContainerInfo(
        CID, "paitui-llama", APP, "cpu", "img", status, exit_code=exit_code, started_at=started_at
    )


def test_engine_away_makes_every_state_unknown_until_the_listing() -> None:
    ready = st.on_probe(started(100.0), probe(ProbeOutcome.READY, 101.0), 60)
    assert ready.state == AppState.READY
    away = st.on_engine_away(ready, 200.0)
    assert away.state == AppState.UNKNOWN and away.last_known == AppState.READY
    assert away.detail == "Docker engine away (was ready)" and away.since == 200.0
    assert not away.probed and not away.final and away.uptime(250.0) is None
    assert st.on_engine_away(away, 300.0) == away  # already unknown: nothing changes
    assert st.on_probe(away, probe(ProbeOutcome.READY, 301.0), 60) == away  # probes ignored
    removed = st.on_event(ready, ev("destroy", 150.0), 150.0)
    assert removed is not None and st.on_engine_away(removed, 200.0) == removed

    # Back, the same run still going: it must prove it is ready again (a probe says so).
    back = st.from_container(_listed(ContainerStatus.RUNNING, 100.0), 400.0, away)
    assert back.state == AppState.STARTING and back.detail == "" and back.last_known is None
    assert back.probe is None and not back.ever_ready


def test_the_state_before_the_engine_left_still_decides_a_clean_stop() -> None:
    stopping = st.on_stop_requested(started(100.0), 150.0)
    away = st.on_engine_away(stopping, 160.0)
    # Exit code 1 after the user asked for a stop is an exit, not a crash.
    back = st.from_container(_listed(ContainerStatus.EXITED, 100.0, exit_code=1), 300.0, away)
    assert back.state == AppState.EXITED and back.exit_code == 1 and back.last_known is None
    running = st.on_engine_away(started(100.0), 160.0)
    crashed = st.from_container(_listed(ContainerStatus.EXITED, 100.0, exit_code=1), 300.0, running)
    assert crashed.state == AppState.CRASHED and crashed.detail == "crashed with code 1"
    paused = st.from_container(_listed(ContainerStatus.PAUSED, 100.0), 300.0, running)
    assert paused.state == AppState.PAUSED and paused.detail == ""
