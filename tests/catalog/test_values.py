"""``catalog check`` refuses values the engine would reject, and warns on what grants the host.

Each refused value is one the Docker engine (or the docker SDK) rejects at create time, or a
path that could not mean what it says; each is reported at its line and column.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from paitui.domain.catalog.schema import App, host_access
from paitui.domain.catalog.values import check_image, check_mount, shm_bytes
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.files import bundled_catalog_path
from paitui.services.catalog.loader import check_file, load_file
from paitui.settings import Settings

APP = """\
apps:
  - id: a
    name: A
    description: d
    kind: llm
    variants:
      cpu:
        image: example/a:1
        {variant}
    {app}
"""


def write(tmp_path: Path, variant: str = "", app: str = "") -> Path:
    path = tmp_path / "a.yml"
    text = APP.format(variant=variant, app=app)
    if variant.startswith("image:"):  # replaces the template's image
        text = text.replace("image: example/a:1\n", "")
    path.write_text(text)
    return path


def one_issue(path: Path) -> tuple[int | None, int | None, str | None, str]:
    apps, issues = load_file(path)
    assert apps == [] and len(issues) == 1, [str(i) for i in issues]
    i = issues[0]
    return i.line, i.column, i.field, i.message


@pytest.mark.parametrize(
    ("variant", "field", "words"),
    [
        ('extra_mounts: ["data:/data"]', "variants.cpu.extra_mounts.0", "not an absolute path"),
        ('extra_mounts: ["/a:rel"]', "variants.cpu.extra_mounts.0", "not an absolute path"),
        ('extra_mounts: ["/x:/"]', "variants.cpu.extra_mounts.0", "cannot cover the container's"),
        ('extra_mounts: ["/a/../etc:/b"]', "variants.cpu.extra_mounts.0", "contains '..'"),
        ('extra_mounts: ["/a:/b:rx"]', "variants.cpu.extra_mounts.0", "options are 'ro' or 'rw'"),
        ('extra_mounts: ["/a"]', "variants.cpu.extra_mounts.0", "is not host:container[:ro]"),
        ("shm_size: lots", "variants.cpu.shm_size", "'lots' is not a size"),
        ("shm_size: 0g", "variants.cpu.shm_size", "larger than 0"),
        ("shm_size: 99999999999999g", "variants.cpu.shm_size", "larger than the engine"),
        ('image: ""', "variants.cpu.image", "the image is empty"),
        ("image: Example/A:1", "variants.cpu.image", "not an image reference"),
        ('image: "example/a: 1"', "variants.cpu.image", "not an image reference"),
        ("pinned: example/a:-x", "variants.cpu.pinned", "not an image reference"),
        ('user: "1000:4294967295"', "variants.cpu.user", "between 0 and 4294967294"),
        ('user: "a b"', "variants.cpu.user", "is not a user"),
        ("cap_add: [SYS_PTRAC]", "variants.cpu.cap_add.0", "not a Linux capability"),
        ('security_opt: ["seccomp=/etc/p.json"]', "variants.cpu.security_opt.0", "JSON profile"),
        ('security_opt: ["systempaths=unconfined"]', "variants.cpu.security_opt.0", "engine"),
        ('env: {"A=B": x}', "variants.cpu.env.A=B", "not an environment variable name"),
        ('command: ["a\\0b"]', "variants.cpu.command.0", "NUL character"),
    ],
)
def test_variant_values_the_engine_rejects(
    tmp_path: Path, variant: str, field: str, words: str
) -> None:
    path = write(tmp_path, variant=variant)
    line, column, got_field, message = one_issue(path)
    assert (got_field, words in message) == (field, True), message
    # Located at the value itself (for a list, at the item).
    assert line is not None and column is not None
    at = path.read_text().splitlines()[line - 1][column - 1 :][:3]
    value = variant.split(": ", 1)[1]
    assert value.startswith(at) or value[1:].startswith(at), (line, column, at)


@pytest.mark.parametrize(
    ("app", "field", "words"),
    [
        (
            "mounts: {data: {path: /data, uid: -1}}",
            "mounts.data.uid",
            "between 0 and 4294967294",
        ),
        (
            "mounts: {data: {path: /data, gid: 4294967295}}",
            "mounts.data.gid",
            "between 0 and 4294967294",
        ),
        ("mounts: {models: {path: models}}", "mounts.models.path", "not an absolute path"),
        (
            "ports: [{container: 80, purpose: a}, {container: 80, purpose: b}]",
            "ports",
            "container port 80 is listed twice",
        ),
        ("ports: [{container: 0, purpose: a}]", "ports.0.container", "greater than or equal to 1"),
        ('shm_size: "-1g"', "shm_size", "is not a size"),
    ],
)
def test_app_values_the_engine_rejects(tmp_path: Path, app: str, field: str, words: str) -> None:
    _, _, got_field, message = one_issue(write(tmp_path, app=app))
    assert (got_field, words in message) == (field, True), message


def test_valid_values_pass() -> None:
    for ref in (
        "127.0.0.1:5000/paitest/busybox:latest",
        "runaiserver:latest",
        "ghcr.io/ggml-org/llama.cpp:server-cuda13",
        "localhost/a__b/c-d.e:1",
        "a@sha256:" + "0" * 64,
        "[::1]:5000/x:y",
    ):
        assert check_image(ref) == ref
    assert shm_bytes("16G") == 16 * 1024**3
    assert shm_bytes("512mb") == 512 * 1024**2
    assert shm_bytes("1024") == 1024
    assert check_mount("/dev/dri/by-path:/dev/dri/by-path:ro")


def test_image_check_is_linear_on_hostile_names() -> None:
    """The reference grammar is written without nested quantifiers that could backtrack."""
    import time

    for hostile in ("a" + "-" * 200 + "!", "a" + "._" * 150 + "!", "a." * 220 + "-"):
        started = time.monotonic()
        with pytest.raises(ValueError):
            check_image(hostile)
        assert time.monotonic() - started < 0.1


DANGER = {
    "privileged: true": ["privileged"],
    'extra_mounts: ["/:/host"]': ["extra_mounts.0"],
    'extra_mounts: ["/var/run/docker.sock:/var/run/docker.sock"]': ["extra_mounts.0"],
    'extra_mounts: ["/run:/run"]': ["extra_mounts.0"],
    'extra_mounts: ["/etc/:/host-etc:ro"]': ["extra_mounts.0"],
    "cap_add: [SYS_ADMIN, SYS_PTRACE]": ["cap_add.0"],
    'extra_mounts: ["/srv/cache:/cache"]': [],
}


@pytest.mark.parametrize(("variant", "fields"), DANGER.items())
def test_host_access_is_a_located_warning_not_an_error(
    tmp_path: Path, variant: str, fields: list[str]
) -> None:
    apps, issues, warnings = check_file(write(tmp_path, variant=variant))
    assert [a.id for a in apps] == ["a"] and issues == []
    assert [w.field for w in warnings] == [f"variants.cpu.{f}" for f in fields]
    assert all(w.severity == "warning" and w.line == 9 for w in warnings)
    assert all(str(w).startswith(f"{tmp_path / 'a.yml'}:9:") for w in warnings)
    assert all(": warning: " in str(w) for w in warnings)


def test_launch_plan_warns_on_host_access(tmp_path: Path) -> None:
    """The launch screen and run-cmd show the plan's warnings: host access is among them."""
    apps, _ = load_file(
        write(
            tmp_path,
            variant='privileged: true\n        extra_mounts: ["/var/run/docker.sock:/d.sock"]',
        )
    )
    plan = plan_launch(
        apps[0], HardwareReport(), Settings(), LaunchChoices(), models_store=tmp_path
    )
    danger = [w for w in plan.warnings if "root on the host" in w or "engine's socket" in w]
    assert len(danger) == 2, plan.warnings
    assert danger[0].startswith("privileged: ") and danger[1].startswith("extra_mounts.0: ")


def test_bundled_catalog_only_warns_on_vllm_xpu() -> None:
    apps, issues, warnings = check_file(bundled_catalog_path())
    assert issues == []
    assert [(w.app_id, w.field) for w in warnings] == [("vllm", "variants.xpu.privileged")]
    by_id: dict[str, App] = {a.id: a for a in apps}
    assert host_access(by_id["vllm"].variants["cuda"]) == []


def test_check_command_prints_warnings_and_passes(tmp_path: Path) -> None:
    from tests.catalog.test_cli_catalog import paitui

    path = write(tmp_path, variant=textwrap.dedent('extra_mounts: ["/:/host"]'))
    result = paitui("catalog", "check", str(path))
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        f"{path}:9:24 (app a): warning: variants.cpu.extra_mounts.0: /:/host: it mounts the "
        "host's /; launch it only if you trust the image",
        "1 app OK; 1 setting grants the container the host (see above)",
    ]


def test_check_json_lists_warnings_apart_from_issues(tmp_path: Path) -> None:
    import json

    from tests.catalog.test_cli_catalog import paitui

    path = write(tmp_path, variant="privileged: true")
    result = paitui("catalog", "check", "--json", str(path))
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert (report["apps"], report["issues"]) == (1, [])
    assert [(w["field"], w["severity"], w["line"]) for w in report["warnings"]] == [
        ("variants.cpu.privileged", "warning", 9)
    ]
