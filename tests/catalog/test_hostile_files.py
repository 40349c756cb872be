"""Files that once crashed or hung the catalog loader, and paths that are not catalog files.

``corpus/`` keeps each file that crashed or hung, with the located issue it must now give
(``corpus/expected.json``). The rest attacks the path: a FIFO, ``/dev/zero``, a directory, a
file over the size limit, and such entries in ``catalog.d`` next to valid files, loaded by the
real ``paitui ls`` and ``paitui models ls``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from paitui.services.catalog.loader import check_file, load_catalog, load_file
from paitui.services.catalog.read import MAX_BYTES, MAX_NODES
from tests.catalog.fuzz import deadline
from tests.catalog.test_cli_catalog import GOOD

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, object]] = json.loads((CORPUS / "expected.json").read_text())


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.yml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_gives_its_located_issue(name: str) -> None:
    expected = EXPECTED[name]
    with deadline(2.0):
        apps, issues = load_file(CORPUS / name)
    assert apps == []
    assert len(issues) == 1, [str(i) for i in issues]
    issue = issues[0]
    assert (issue.line, issue.column, issue.field) == (
        expected["line"],
        expected["column"],
        expected["field"],
    )
    assert str(expected["message"]) in issue.message
    assert str(issue).startswith(f"{CORPUS / name}:{issue.line}:{issue.column}")
    assert str(issue).isprintable()  # one line, whatever the file holds


def test_alias_bomb_is_cheap_in_time_and_memory() -> None:
    """The 9**9 expansion is stopped after ~MAX_NODES counted values, not built."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        load_file(CORPUS / "alias-bomb.yml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1.0
    assert peak < 5 * 1024 * 1024, peak


def test_shared_aliases_within_the_limit_still_load(tmp_path: Path) -> None:
    """Aliases are fine: an anchor reused by several apps loads, once per use."""
    path = tmp_path / "anchors.yml"
    path.write_text(
        "x-cpu: &cpu {image: 'example/a:1', env: {A: b}}\napps:\n"
        + "".join(
            f"  - {{id: a{i}, name: A{i}, description: d, kind: llm, variants: {{cpu: *cpu}}}}\n"
            for i in range(50)
        )
    )
    apps, issues = load_file(path)
    assert [i.message for i in issues] == [
        "unknown top-level key: expected 'apps' (and optionally 'version')"
    ]
    assert len(apps) == 50 and all(a.variants["cpu"].env == {"A": "b"} for a in apps)


def test_expansion_limit_is_exact(tmp_path: Path) -> None:
    """Just under MAX_NODES expanded values loads; one alias more is refused at that alias."""
    width = 1000
    row = "[" + ", ".join(["0"] * (width - 1)) + "]"  # 1 sequence + 999 scalars = 1000 nodes
    uses = (MAX_NODES - 100) // width
    text = f"x-row: &r {row}\nx-uses: [" + ", ".join(["*r"] * (uses - 1)) + "]\napps: []\n"
    path = tmp_path / "rows.yml"
    path.write_text(text)
    _, issues = load_file(path)
    assert all("aliases are expanded" not in i.message for i in issues)
    path.write_text(text.replace("x-uses: [", "x-uses: [*r, *r, "))
    _, issues = load_file(path)
    assert len(issues) == 1 and "aliases are expanded" in issues[0].message
    assert issues[0].line == 2


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "apps.yml"
    os.mkfifo(fifo)
    with deadline(2.0):
        apps, issues = load_file(fifo)
    assert apps == [] and len(issues) == 1
    assert issues[0].message.startswith("a FIFO, not a regular file")


@pytest.mark.parametrize(
    ("path", "kind"), [(Path("/dev/zero"), "a device"), (Path("/tmp"), "a directory")]
)
def test_device_and_directory_are_refused(path: Path, kind: str) -> None:
    with deadline(2.0):
        apps, issues = load_file(path)
    assert apps == [] and [i.message.split(",")[0] for i in issues] == [kind]


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    with big.open("wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: nothing is written or read
    apps, issues = load_file(big)
    assert apps == [] and len(issues) == 1
    assert f"over the {MAX_BYTES} byte limit" in issues[0].message
    at_limit = tmp_path / "ok.yml"
    at_limit.write_text(GOOD + "#" * (MAX_BYTES - len(GOOD) - 1) + "\n")
    assert [a.id for a in load_file(at_limit)[0]] == ["mine"]


def test_largest_allowed_file_loads_in_bounded_time(tmp_path: Path) -> None:
    """MAX_BYTES of small values (the densest ordinary YAML) is refused within seconds."""
    dense = tmp_path / "dense.yml"
    body = "apps: []\nx-list:\n" + "- 1\n" * ((MAX_BYTES - 30) // 4)
    dense.write_text(body)
    started = time.monotonic()
    with deadline(10.0):
        _, issues = load_file(dense)
    assert time.monotonic() - started < 10.0
    assert any("more than" in i.message for i in issues)


def test_unreadable_file_is_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "secret.yml"
    path.write_text(GOOD)
    path.chmod(0)
    if os.geteuid() == 0:
        # Root reads files whatever their mode; a regular file whose read fails (EIO) stands in.
        path = Path("/proc/self/mem")
    apps, issues = load_file(path)
    assert apps == [] and "cannot read the file" in issues[0].message


def _bad_catalog_d(config: Path) -> Path:
    """catalog.d with one valid file and one of each kind of bad entry."""
    folder = config / "catalog.d"
    folder.mkdir(parents=True)
    (folder / "10-good.yml").write_text(GOOD)
    (folder / "20-bomb.yml").write_bytes((CORPUS / "alias-bomb.yml").read_bytes())
    (folder / "30-latin1.yml").write_bytes((CORPUS / "undecodable.yml").read_bytes())
    (folder / "40-deep.yml").write_bytes((CORPUS / "deep-nesting.yml").read_bytes())
    (folder / "50-tag.yml").write_bytes((CORPUS / "float-tag.yml").read_bytes())
    os.mkfifo(folder / "60-fifo.yml")
    (folder / "70-dir.yml").mkdir()
    (folder / "80-dangling.yml").symlink_to(folder / "missing")
    (folder / ".#10-good.yml").symlink_to("user@host.1234")  # an editor's lock file: skipped
    return folder


def test_bad_files_in_catalog_d_are_issues_and_the_rest_loads(tmp_path: Path) -> None:
    folder = _bad_catalog_d(tmp_path / "config")
    env = {"PAITUI_CONFIG_DIR": str(tmp_path / "config")}
    with deadline(5.0):
        catalog = load_catalog(env=env)
    assert "mine" in catalog.apps and len(catalog.apps) > 1  # bundled apps too
    by_file = {Path(i.file).name: i for i in catalog.issues}
    assert sorted(by_file) == [
        "20-bomb.yml",
        "30-latin1.yml",
        "40-deep.yml",
        "50-tag.yml",
        "60-fifo.yml",
        "70-dir.yml",
        "80-dangling.yml",
    ]
    assert all(Path(i.file).parent == folder for i in catalog.issues)
    assert by_file["60-fifo.yml"].message.startswith("a FIFO")
    assert "cannot read the file" in by_file["80-dangling.yml"].message


def _paitui(config: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAITUI_CONFIG_DIR": str(config), "PAITUI_STATE_DIR": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize("command", [["ls"], ["ls", "--json"], ["models", "ls"]])
def test_ls_and_models_ls_survive_bad_catalog_d(
    tmp_path: Path, command: list[str], docker_client: object
) -> None:
    """The real commands report each bad file on stderr and do their job (exit 0)."""
    _bad_catalog_d(tmp_path / "config")
    result = _paitui(tmp_path / "config", tmp_path / "state", *command)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("paitui: catalog: ")]
    assert len(problems) == 7, result.stderr
    bomb = EXPECTED["alias-bomb.yml"]
    at = f"20-bomb.yml:{bomb['line']}:{bomb['column']}: not valid YAML: more than {MAX_NODES}"
    assert any(at in p for p in problems), problems
    assert any("60-fifo.yml: a FIFO, not a regular file" in p for p in problems)
    if command == ["ls", "--json"]:
        json.loads(result.stdout)  # stdout stays clean JSON
    elif command == ["models", "ls"]:
        assert result.stdout.startswith("no models in ")


def test_check_refuses_fifo_and_dev_zero_with_the_reason(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yml"
    os.mkfifo(fifo)
    result = _paitui(tmp_path / "c", tmp_path / "s", "catalog", "check", str(fifo), "/dev/zero")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{fifo}: a FIFO, not a regular file: give a plain .yml file "
        "(paitui never reads FIFOs, devices or directories as a catalog)",
        "/dev/zero: a device, not a regular file: give a plain .yml file "
        "(paitui never reads FIFOs, devices or directories as a catalog)",
    ]


def test_check_file_warns_on_host_access_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "danger.yml"
    path.write_text(
        GOOD.replace(
            '{image: "example/mine:1.0"}',
            '{image: "example/mine:1.0", privileged: true,\n'
            '           extra_mounts: ["/var/run/docker.sock:/var/run/docker.sock"]}',
        )
    )
    apps, issues, warnings = check_file(path)
    assert [a.id for a in apps] == ["mine"] and issues == []
    assert [(w.line, w.column, w.field, w.severity) for w in warnings] == [
        (7, 52, "variants.cpu.privileged", "warning"),
        (8, 27, "variants.cpu.extra_mounts.0", "warning"),
    ]
    assert "engine's socket" in warnings[1].message


def test_json_style_surrogate_pairs_join_and_a_lone_half_is_located(tmp_path: Path) -> None:
    entry = (
        "apps:\n  - id: bot\n    name: {name}\n    description: d\n    kind: other\n"
        '    variants: {{cpu: {{image: "example.org/bot:1"}}}}\n'
    )
    good = tmp_path / "good.yml"
    good.write_text(entry.format(name=json.dumps("Bot 🤖")))  # ensure_ascii: "\ud83e\udd16"
    apps, issues = load_file(good)
    assert issues == [] and apps[0].name == "Bot 🤖"
    bad = tmp_path / "bad.yml"
    bad.write_text(entry.format(name='"Bot \\ud83e"'))
    apps, issues = load_file(bad)
    assert apps == [] and [(i.line, "lone surrogate" in i.message) for i in issues] == [(3, True)]
