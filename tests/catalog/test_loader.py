"""The catalog schema and loader: every problem is located by file, line, column, app and field."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from paitui.domain.catalog.schema import (
    PLACEHOLDERS,
    App,
    CatalogIssue,
    accel_of_variant,
    placeholders_in,
)
from paitui.domain.hardware.accel import Accel
from paitui.services.catalog.loader import load_catalog, load_file

GOOD_APP = """\
  - id: {id}
    name: {name}
    description: d
    kind: llm
    variants:
      cpu: {{image: "example/{id}:1.0"}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def only_issue(path: Path) -> tuple[list[str], CatalogIssue]:
    apps, issues = load_file(path)
    assert len(issues) == 1, [str(i) for i in issues]
    return [a.id for a in apps], issues[0]


def where(issue: CatalogIssue) -> tuple[int | None, int | None, str | None, str | None]:
    return issue.line, issue.column, issue.app_id, issue.field


# ------------------------------------------------------------------ schema (pure)


def test_variant_families_map_to_accelerators() -> None:
    assert accel_of_variant("rocm") is Accel.ROCM
    assert accel_of_variant("xpu") is Accel.INTEL
    assert accel_of_variant("ipex") is Accel.INTEL
    assert accel_of_variant("sycl") is Accel.INTEL
    assert accel_of_variant("cuda-llm") is Accel.CUDA
    assert accel_of_variant("cpu-test") is Accel.CPU
    for bad in ("gpu", "cuda13", "CUDA", "rocm-", "-rocm", "nvidia-cuda"):
        with pytest.raises(ValueError, match="unknown variant name"):
            accel_of_variant(bad)


def test_placeholders() -> None:
    assert placeholders_in("--model {model} --port {port}") == ["model", "port"]
    assert placeholders_in("literal {{braces}}") == []
    assert placeholders_in('{"json": 1} and ${SHELL_VAR}') == []
    assert placeholders_in("{Model}") == ["Model"]
    assert set(PLACEHOLDERS) == {
        "model", "model_id", "port", "render_gid",
        "models", "models_by_kind", "models_hf_cache", "comfyui_model_paths", "models_views",
    }  # fmt: skip


def base_app(**extra: object) -> dict[str, object]:
    app: dict[str, object] = {
        "id": "x",
        "name": "X",
        "description": "d",
        "kind": "llm",
        "variants": {"cpu": {"image": "example/x"}},
    }
    app.update(extra)
    return app


def test_http_health_on_a_tcp_port_is_rejected() -> None:
    with pytest.raises(ValidationError, match="use 'type: tcp'"):
        App.model_validate(
            base_app(
                ports=[{"container": 50006, "purpose": "p", "protocol": "tcp"}],
                health={"path": "/"},
            )
        )
    app = App.model_validate(
        base_app(
            ports=[{"container": 50006, "purpose": "p", "protocol": "tcp"}], health={"type": "tcp"}
        )
    )
    assert app.health_port() == 50006


def test_http_health_needs_a_port() -> None:
    with pytest.raises(ValidationError, match="needs a port"):
        App.model_validate(base_app(health={"path": "/health"}))


def test_health_port_must_be_published() -> None:
    with pytest.raises(ValidationError, match=r"health\.port 9 is not one of the app's ports"):
        App.model_validate(
            base_app(ports=[{"container": 8080, "purpose": "p"}], health={"port": 9})
        )


def test_models_are_frozen() -> None:
    app = App.model_validate(base_app())
    with pytest.raises(ValidationError):
        app.name = "other"


# ------------------------------------------------------------------ loader: one file


def test_valid_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yml", "apps:\n" + GOOD_APP.format(id="a", name="A"))
    apps, issues = load_file(path)
    assert [a.id for a in apps] == ["a"] and issues == []


def test_malformed_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yml",
        """\
        apps:
          - id: a
            name: [unclosed
            kind: llm
        """,
    )
    ids, issue = only_issue(path)
    assert ids == []
    assert issue.file == str(path)
    # PyYAML notices the unclosed list at the ':' after "kind".
    assert (issue.line, issue.column) == (4, 9)
    assert issue.message == "not valid YAML: expected ',' or ']', but got ':'"


def test_bad_indentation(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yml", "apps:\n  - id: a\n   name: A\n")
    _, issue = only_issue(path)
    assert (issue.line, issue.column) == (3, 4)
    assert issue.message.startswith("not valid YAML: expected <block end>")


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yml", "- id: a\n")
    _, issue = only_issue(path)
    assert where(issue) == (1, 1, None, "apps")
    assert "'apps:' list" in issue.message


def test_unknown_top_level_key_keeps_the_apps(tmp_path: Path) -> None:
    path = tmp_path / "top.yml"
    path.write_text("apps:\n" + GOOD_APP.format(id="a", name="A") + "appz: []\n1: x\n")
    apps, issues = load_file(path)
    assert [a.id for a in apps] == ["a"]
    assert [(i.line, i.column, i.field) for i in issues] == [(9, 1, "1"), (8, 1, "appz")]
    assert all("unknown top-level key" in i.message for i in issues)


def test_empty_file_has_no_apps_and_no_issue(tmp_path: Path) -> None:
    assert load_file(write(tmp_path, "empty.yml", "")) == ([], [])


def test_undecodable_byte_is_located(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(b"apps: [\xff]\n")
    _, issue = only_issue(path)
    assert (issue.line, issue.column) == (1, 8)
    assert "not UTF-8 text: byte 0xff" in issue.message


def test_wrong_type(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "types.yml",
        """\
        apps:
          - id: a
            name: A
            description: d
            kind: llm
            variants:
              cpu: {image: x}
            ports:
              - container: http
                purpose: p
        """,
    )
    ids, issue = only_issue(path)
    assert ids == []
    assert where(issue) == (9, 20, "a", "ports.0.container")
    assert "valid integer" in issue.message and "(got 'http')" in issue.message


def test_wrong_enum_value_names_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "kind.yml"
    app = GOOD_APP.format(id="a", name="A").replace("kind: llm", "kind: chat")
    path.write_text("apps:\n" + app)
    _, issue = only_issue(path)
    assert where(issue) == (5, 11, "a", "kind")
    assert "'llm', 'image', 'video', 'audio', 'ui' or 'other'" in issue.message
    assert "(got 'chat')" in issue.message


def test_list_where_a_list_is_expected_says_list(tmp_path: Path) -> None:
    text = "apps:\n" + GOOD_APP.format(id="a", name="A") + "    command: 5\n"
    path = write(tmp_path, "cmd.yml", text)
    _, issue = only_issue(path)
    assert where(issue) == (8, 14, "a", "command")
    assert issue.message == "Input should be a list (got 5)"


def test_union_errors_are_one_issue(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "union.yml",
        "apps:\n"
        + GOOD_APP.format(id="a", name="A")
        + """\
    ports: [{container: 80, purpose: p}]
    health:
      ready: {json_fields: {status: [1]}}
""",
    )
    _, issue = only_issue(path)
    assert where(issue) == (10, 37, "a", "health.ready.json_fields.status")
    assert issue.message == ("Input should be a valid string or a valid integer or a valid boolean")


def test_unknown_variant_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "variant.yml",
        """\
        apps:
          - id: a
            name: A
            description: d
            kind: llm
            variants:
              cpu: {image: x}
              gpu: {image: y}
        """,
    )
    ids, issue = only_issue(path)
    assert ids == []
    # Located at the key, not at its value.
    assert where(issue) == (8, 7, "a", "variants.gpu")
    assert "unknown variant name 'gpu'" in issue.message
    assert "cpu, cuda, intel, ipex, rocm, sycl, vulkan, xpu" in issue.message


def test_unknown_key_located_at_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "key.yml",
        """\
        apps:
          - id: a
            name: A
            description: d
            kind: llm
            variants:
              rocm:
                image: x
                shm-size: 8G
        """,
    )
    _, issue = only_issue(path)
    assert where(issue) == (9, 9, "a", "variants.rocm.shm-size")
    assert issue.message == "unknown field (did you mean 'shm_size'?)"


def test_unknown_key_without_a_close_match(tmp_path: Path) -> None:
    path = tmp_path / "key.yml"
    path.write_text("apps:\n" + GOOD_APP.format(id="a", name="A") + "    zzzzzz: 1\n")
    _, issue = only_issue(path)
    assert where(issue) == (8, 5, "a", "zzzzzz")
    assert issue.message == "unknown field (check its spelling)"


def test_missing_required_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "missing.yml",
        """\
        apps:
          - id: a
            kind: llm
            variants:
              cpu: {}
        """,
    )
    apps, issues = load_file(path)
    assert apps == []
    got = sorted((i.line, i.column, i.app_id, i.field, i.message) for i in issues)
    assert got == [
        (2, 5, "a", "description", "required field is missing"),
        (2, 5, "a", "name", "required field is missing"),
        (5, 12, "a", "variants.cpu.image", "required field is missing"),
    ]


def test_no_variants(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "novar.yml",
        """\
        apps:
          - id: a
            name: A
            description: d
            kind: llm
            variants: {}
        """,
    )
    _, issue = only_issue(path)
    assert where(issue) == (6, 15, "a", "variants")
    assert issue.message == "an app needs at least one variant"


def test_bad_app_id(tmp_path: Path) -> None:
    # (the image name must be lower case too; only the id is under test here)
    text = GOOD_APP.format(id="Bad_Id", name="A").replace("example/Bad_Id", "example/bad")
    path = write(tmp_path, "id.yml", "apps:\n" + text)
    _, issue = only_issue(path)
    assert where(issue) == (2, 9, "Bad_Id", "id")
    assert "lower-case letters" in issue.message


def test_unknown_placeholder(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ph.yml",
        "apps:\n"
        + GOOD_APP.format(id="a", name="A")
        + """\
    command: ["--model", "{modle}"]
""",
    )
    _, issue = only_issue(path)
    assert where(issue) == (8, 14, "a", "command")
    assert "unknown placeholder {modle}" in issue.message and "{model}" in issue.message


def test_entry_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "str.yml", "apps:\n  - just text\n" + GOOD_APP.format(id="b", name="B"))
    ids, issue = only_issue(path)
    assert ids == ["b"]
    assert where(issue) == (2, 5, None, None)
    assert issue.message.startswith("expected a mapping")


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dup.yml",
        "apps:\n" + GOOD_APP.format(id="a", name="First") + GOOD_APP.format(id="a", name="Second"),
    )
    apps, issues = load_file(path)
    assert [(a.id, a.name) for a in apps] == [("a", "First")]
    assert len(issues) == 1
    assert where(issues[0]) == (8, 9, "a", "id")
    assert issues[0].message == "duplicate id; the entry at line 2 is kept"


def test_duplicate_yaml_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dupkey.yml",
        """\
        apps:
          - id: a
            name: A
            description: d
            kind: llm
            name: B
            variants:
              cpu: {image: x, image: y}
        """,
    )
    apps, issues = load_file(path)
    # The app still loads (YAML keeps the last value) but both repeats are reported.
    assert [(a.id, a.name, a.variants["cpu"].image) for a in apps] == [("a", "B", "y")]
    assert [where(i) for i in issues] == [
        (6, 5, "a", "name"),
        (8, 23, "a", "variants.cpu.image"),
    ]
    assert all(i.message == "key appears twice; only the last one counts" for i in issues)


def test_one_bad_app_does_not_stop_the_others(tmp_path: Path) -> None:
    text = (
        "apps:\n"
        + GOOD_APP.format(id="a", name="A")
        + """\
  - id: broken
    name: B
    description: d
    kind: nope
    variants:
      cpu: {image: x}
"""
        + GOOD_APP.format(id="c", name="C")
    )
    ids, issue = only_issue(write(tmp_path, "mixed.yml", text))
    assert ids == ["a", "c"]
    assert where(issue) == (11, 11, "broken", "kind")


def test_issue_text_format() -> None:
    issue = CatalogIssue(file="f.yml", line=3, column=5, app_id="a", field="kind", message="m")
    assert str(issue) == "f.yml:3:5 (app a): kind: m"
    assert str(CatalogIssue(file="f.yml", message="file not found")) == "f.yml: file not found"


# ------------------------------------------------------------------ merge


def test_overlay_merge(tmp_path: Path) -> None:
    config = Path(os.environ["PAITUI_CONFIG_DIR"])
    mine = GOOD_APP.format(id="ollama", name="My Ollama") + GOOD_APP.format(id="mine", name="Mine")
    write(config, "catalog.d/10-mine.yml", "apps:\n" + mine)
    write(config, "catalog.d/20-later.yml", "apps:\n" + GOOD_APP.format(id="mine", name="Mine v2"))
    write(config, "catalog.d/notes.txt", "not a catalog")
    extra = write(
        tmp_path,
        "extra.yml",
        "apps:\n"
        + GOOD_APP.format(id="mine", name="Mine v3")
        + GOOD_APP.format(id="cli-only", name="CLI"),
    )
    bundled = load_catalog(include_user=False)
    merged = load_catalog([extra])
    assert merged.issues == ()
    # Same id overrides, in order bundled < catalog.d (by name) < --catalog; new ids add.
    assert merged.apps["ollama"].name == "My Ollama"
    assert merged.sources["ollama"] == str(config / "catalog.d/10-mine.yml")
    assert merged.apps["mine"].name == "Mine v3"
    assert merged.sources["mine"] == str(extra)
    assert "cli-only" in merged.apps
    assert set(merged.apps) == set(bundled.apps) | {"mine", "cli-only"}
    assert merged.apps["llama-cpp-server"] == bundled.apps["llama-cpp-server"]


def test_overlay_with_a_broken_entry_keeps_the_bundled_one(tmp_path: Path) -> None:
    config = Path(os.environ["PAITUI_CONFIG_DIR"])
    path = write(
        config,
        "catalog.d/broken.yml",
        """\
        apps:
          - id: ollama
            name: Broken
            description: d
            kind: llm
            variants: {gpu: {image: x}}
        """,
    )
    catalog = load_catalog()
    assert catalog.apps["ollama"].name == "Ollama"
    assert [(i.file, i.line, i.column, i.app_id, i.field) for i in catalog.issues] == [
        (str(path), 6, 16, "ollama", "variants.gpu")
    ]


def test_missing_extra_file_is_an_issue(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    catalog = load_catalog([missing], include_bundled=False)
    assert catalog.apps == {}
    assert [(i.file, i.message) for i in catalog.issues] == [(str(missing), "file not found")]


def test_paitui_catalog_env_adds_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = write(tmp_path, "one.yml", "apps:\n" + GOOD_APP.format(id="one", name="One"))
    two = write(tmp_path, "two.yml", "apps:\n" + GOOD_APP.format(id="two", name="Two"))
    monkeypatch.setenv("PAITUI_CATALOG", f"{one}{os.pathsep}{two}")
    catalog = load_catalog(include_bundled=False)
    assert sorted(catalog.apps) == ["one", "two"]
