"""The fdinfo helper container on the real engine: it reads what an unprivileged reader cannot."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from paitui.services.gpu.helper import HELPER_LABEL, FdinfoHelper, HelperUnavailable
from tests.gpu.conftest import host_pids


def _factory(client: Any) -> Callable[[], Any]:
    import docker

    return lambda: docker.from_env(timeout=30)


@pytest.mark.parametrize("mode", ["run", "exec"])
def test_reads_another_users_fdinfo(
    mode: str, sleeper: Callable[..., Any], busybox_image: str, docker_client: Any, test_label: str
) -> None:
    """A container process running as uid 4242: the helper lists its fds and returns the
    fdinfo of those on the asked nodes only (here its /dev/null stdin stands in for a DRM
    node, as this host has no GPU)."""
    c = sleeper("sleep 300", user="4242:4242")
    (pid,) = host_pids(c)
    helper = FdinfoHelper(busybox_image, mode, _factory(docker_client), name=f"gpu-{test_label}")
    try:
        t0 = time.monotonic()
        got = helper.read([pid, 999_999_999], {"null"}, prefix="/dev/")
        first = time.monotonic() - t0
        assert got.complete and got.comm[pid] == "sleep" and got.gone == {999_999_999}
        assert got.fdinfo[pid] and all("flags:" in t for t in got.fdinfo[pid])
        none = helper.read([pid], {"renderD128"}, prefix="/dev/dri/")
        assert none.fdinfo[pid] == []  # no fd on that node: nothing read
        t0 = time.monotonic()
        helper.read([pid], {"null"}, prefix="/dev/")
        again = time.monotonic() - t0
        print(f"helper {mode}: first {first * 1000:.0f} ms, next {again * 1000:.0f} ms")
    finally:
        helper.close(stop=True)
    left = docker_client.containers.list(all=True, filters={"label": HELPER_LABEL})
    assert not [x for x in left if x.name == f"gpu-{test_label}"]


def test_missing_image_says_what_to_do(docker_client: Any, registry: str) -> None:
    image = f"{registry}/paitest/no-such-helper:none"
    helper = FdinfoHelper(image, "run", _factory(docker_client))
    with pytest.raises(HelperUnavailable) as err:
        helper.read([1], {"renderD128"})
    assert image in str(err.value)
    helper.close()


def test_bad_mode() -> None:
    with pytest.raises(ValueError, match="'run' or 'exec'"):
        FdinfoHelper(mode="sudo")


def test_script_reports_denied_when_the_kernel_refuses(
    sleeper: Callable[..., Any], busybox_image: str, docker_client: Any
) -> None:
    """Without CAP_SYS_PTRACE the kernel lets root list another uid's fds but refuses their
    fdinfo: the script must say "denied", never hand back an empty (zero) answer."""
    from paitui.domain.gpu.helper_text import HELPER_SCRIPT, parse_helper_output

    c = sleeper("sleep 300", user="4242:4242")
    (pid,) = host_pids(c)
    out = docker_client.containers.run(
        busybox_image,
        ["sh", "-c", HELPER_SCRIPT, "sh", str(pid)],
        environment={"AWAKE": "null", "PREFIX": "/dev/"},
        pid_mode="host",
        network_mode="none",
        remove=True,
    )
    got = parse_helper_output(out.decode())
    assert got.complete and got.denied == {pid} and pid not in got.fdinfo
