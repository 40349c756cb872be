"""The DRM fdinfo parser on recorded files of each driver, and on garbage."""

from __future__ import annotations

import random

import pytest

from paitui.domain.gpu.fdinfo import DrmClient, dedupe, parse_amount, parse_fdinfo
from paitui.domain.gpu.helper_text import parse_helper_output
from tests.gpu.trees import fdinfo_text

KiB, MiB = 1024, 1024**2


@pytest.mark.parametrize(
    ("name", "driver", "pdev", "client", "vram", "system"),
    [
        # drm-memory-* (resident) only: what amdgpu printed before drm_print_memory_stats
        ("amdgpu-legacy", "amdgpu", "0000:03:00.0", "23", 3145728 * KiB, 20480 * KiB),
        # resident wins over total and over the legacy key when both are printed
        ("amdgpu-6.11", "amdgpu", "0000:03:00.0", "41", 8450 * MiB, 2 * MiB),
        ("i915-dg2", "i915", "0000:03:00.0", "8", 1536 * MiB, 4 * MiB),
        ("i915-igpu", "i915", "0000:00:02.0", "3", 0, 181 * MiB),
        ("xe", "xe", "0000:03:00.0", "4", 2048 * MiB, 192 * KiB),
    ],
)
def test_each_driver(
    name: str, driver: str, pdev: str, client: str, vram: int, system: int
) -> None:
    c = parse_fdinfo(fdinfo_text(name), pid=7)
    assert c is not None
    assert (c.driver, c.pdev, c.client_id, c.pid) == (driver, pdev, client, 7)
    assert (c.device_bytes, c.system_bytes) == (vram, system)


def test_engines_and_cycles() -> None:
    amd = parse_fdinfo(fdinfo_text("amdgpu-legacy"))
    assert amd is not None and amd.engine_ns["gfx"] == 1327958411
    i915 = parse_fdinfo(fdinfo_text("i915-dg2"))
    assert i915 is not None and "capacity-video" not in i915.engine_ns
    assert i915.engine_ns["video-enhance"] == 0
    xe = parse_fdinfo(fdinfo_text("xe"))
    assert xe is not None and xe.cycles["ccs"] == (139914062, 7655183225)
    assert "capacity-vcs" not in xe.cycles and not xe.engine_ns


@pytest.mark.parametrize("name", ["nouveau", "not-drm", "garbage"])
def test_not_a_drm_client(name: str) -> None:
    assert parse_fdinfo(fdinfo_text(name)) is None


def test_amounts() -> None:
    assert parse_amount("3 MiB") == 3 * MiB
    assert parse_amount("0") == 0
    assert parse_amount("12 KiB") == 12 * KiB
    for bad in ("", "lots KiB", "3 PiB", "-1", "1.5 MiB"):
        assert parse_amount(bad) is None


def test_random_garbage_never_raises() -> None:
    rng = random.Random(15)
    good = fdinfo_text("xe")
    alphabet = "drm-:\t\n KiBMs0123456789vramengine\x00\xff"
    for _ in range(400):
        if rng.random() < 0.5:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        else:  # a real file cut at a random point, with a byte flipped
            cut = good[: rng.randint(0, len(good))]
            i = rng.randint(0, max(len(cut) - 1, 0))
            text = cut[:i] + rng.choice(alphabet) + cut[i + 1 :]
        c = parse_fdinfo(text)
        assert c is None or (c.device_bytes >= 0 and c.system_bytes >= 0)


def test_dedupe_keeps_first_per_pdev_and_client() -> None:
    a = DrmClient("amdgpu", "0000:03:00.0", "5", pid=10, regions={"vram": 1})
    dup = DrmClient("amdgpu", "0000:03:00.0", "5", pid=11, regions={"vram": 1})
    other_gpu = DrmClient("amdgpu", "0000:04:00.0", "5", pid=11, regions={"vram": 2})
    assert dedupe([a, dup, other_gpu]) == [a, other_gpu]


def test_helper_output() -> None:
    text = (
        "noise before\n@@proc 12 llama-server\n@@fd 3\n"
        + fdinfo_text("xe")
        + "@@fd 8\n@@lost 8\n@@fd 9\npos:\t0\n@@gone 13\n@@denied 14\n"
        + "@@proc 15 x\n@@bogus 1\n@@end\n"
    )
    a = parse_helper_output(text)
    assert a.complete and a.gone == {13} and a.denied == {14}
    assert a.comm == {12: "llama-server", 15: "x"}
    assert len(a.fdinfo[12]) == 2 and a.fdinfo[15] == []
    assert parse_fdinfo(a.fdinfo[12][0]) == parse_fdinfo(fdinfo_text("xe"))
    assert not parse_helper_output("@@proc 1 a\n@@fd 3\npos: 0\n").complete
