"""Suggested models in the catalog: the schema, located issues for bad entries, the bundled data."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import ValidationError

from paitui.domain.models.suggested import (
    MAX_SUGGESTIONS,
    SuggestedKind,
    SuggestedModel,
    fits_formats,
    gb_text,
    suggestion_formats,
)
from paitui.services.catalog.loader import load_catalog, load_file

HEAD = """\
apps:
  - id: x
    name: X
    description: d
    kind: llm
    variants:
      cpu: {image: "example/x:1"}
    suggested_models:
"""
GOOD = {
    "repo": "bartowski/Llama-3.2-1B-Instruct-GGUF",
    "file": "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
    "size_gb": 0.81,
    "kind": "llm",
    "note": "small chat model",
    "source": "https://huggingface.co/docs/hub/ollama",
}


def entry(**changes: Any) -> dict[str, Any]:
    data = {**GOOD, **changes}
    return {k: v for k, v in data.items() if v is not None}


def write(tmp_path: Path, items: str) -> Path:
    path = tmp_path / "cat.yml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(items), "      "), encoding="utf-8")
    return path


# ------------------------------------------------------------------ schema (pure)


def test_good_entries() -> None:
    gguf = SuggestedModel.model_validate(GOOD)
    assert gguf.label == "bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M.gguf"
    assert gguf.size_bytes == 810_000_000 and not gguf.is_glob
    assert suggestion_formats(gguf) == ("gguf",)
    glob = SuggestedModel.model_validate(entry(file="*Q4_K_M.gguf"))
    assert glob.is_glob and fits_formats(glob, ("gguf",))
    repo = SuggestedModel.model_validate(
        entry(file=None, files=["*.fp16.safetensors", "*.json"], kind="diffusers")
    )
    assert repo.label == GOOD["repo"] and suggestion_formats(repo) == ("diffusers",)
    whole = SuggestedModel.model_validate(entry(file=None, kind="transformers", min_memory_gb=4))
    assert suggestion_formats(whole) == ("hf-repo",) and not fits_formats(whole, ("gguf",))
    pth = SuggestedModel.model_validate(entry(file="sub/control.pth", kind="controlnet"))
    assert suggestion_formats(pth) == ("ckpt",)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"repo": "no-slash"}, "not a Hugging Face repo id"),
        ({"repo": "a/b/c"}, "not a Hugging Face repo id"),
        ({"repo": "../etc"}, "not a Hugging Face repo id"),
        ({"repo": "org/.hidden"}, "not a Hugging Face repo id"),
        ({"repo": "org/a..b"}, "'..' in a name"),
        ({"file": "../../etc/passwd"}, "unsafe path"),
        ({"file": "/abs/model.gguf"}, "unsafe path"),
        ({"file": "sub/../model.gguf"}, "unsafe path"),
        ({"file": "C:/model.gguf"}, "unsafe path"),
        ({"file": "a\\b.gguf"}, "unsafe path"),
        ({"file": "a//b.gguf"}, "unsafe path"),
        ({"file": " model.gguf"}, "unsafe path"),
        ({"file": "a\x00.gguf"}, "unsafe path"),
        ({"file": None, "files": ["ok/*.json", "../x"]}, "unsafe path"),
        ({"size_gb": 0}, "greater than 0"),
        ({"size_gb": -1}, "greater than 0"),
        ({"size_gb": 4200}, "less than or equal to 1000"),
        ({"size_gb": float("nan")}, "finite number"),
        ({"size_gb": float("inf")}, "finite number"),
        ({"min_memory_gb": 0}, "greater than 0"),
        ({"size_gb": "big"}, "valid number"),
        ({"kind": "model"}, "Input should be"),
        ({"kind": "LLM"}, "Input should be"),
        ({"note": ""}, "at least 1 character"),
        ({"note": "two\nlines"}, "one line"),
        ({"note": "   "}, "must not be blank"),
        ({"note": "x" * 200}, "at most 160 characters"),
        ({"source": ""}, "at least 1 character"),
        ({"files": ["*.json"]}, "not both"),
        ({"kind": "diffusers"}, "whole repo"),
        ({"file": None}, "is one file"),
        ({"size": 1}, "Extra inputs"),
    ],
)
def test_bad_entries(changes: dict[str, Any], message: str) -> None:
    data = {**GOOD, **changes}
    data = {k: v for k, v in data.items() if v is not None or k not in changes}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ValidationError, match=message):
        SuggestedModel.model_validate(data)


def test_kind_values_match_the_classifier() -> None:
    from paitui.domain.models.kinds import ModelKind

    assert set(get_args(SuggestedKind)) == {k.value for k in ModelKind}


def test_gb_text() -> None:
    assert [gb_text(v) for v in (6.5, 8.0, 7.98, 0.81, 24.3, 10.0, float("nan"))] == [
        "6.5", "8", "8", "0.8", "24", "10", "?",
    ]  # fmt: skip


# ------------------------------------------------------------------ located issues (loader)


def test_a_bad_entry_is_a_located_issue_and_other_apps_still_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        - repo: bartowski/Llama-3.2-1B-Instruct-GGUF
          file: Llama-3.2-1B-Instruct-Q4_K_M.gguf
          size_gb: 0.81
          kind: llm
          note: fine
          source: docs
        - repo: evil/repo
          file: ../../../etc/shadow
          size_gb: 1
          kind: llm
          note: bad path
          source: docs
        """,
    )
    path.write_text(
        path.read_text() + '  - id: y\n    name: Y\n    description: d\n    kind: llm\n'
        '    variants:\n      cpu: {image: "example/y:1"}\n'
    )  # fmt: skip
    apps, issues = load_file(path)
    assert [a.id for a in apps] == ["y"]
    assert len(issues) == 1, [str(i) for i in issues]
    issue = issues[0]
    assert (issue.line, issue.column, issue.app_id, issue.field) == (
        16, 15, "x", "suggested_models.1.file"
    )  # fmt: skip
    assert "unsafe path" in issue.message
    assert str(issue).startswith(f"{path}:16:15 (app x): suggested_models.1.file: unsafe path")


def test_each_bad_field_is_reported_where_it_is(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        - repo: nope
          file: m.gguf
          size_gb: 0
          kind: checkpoints
          note: n
          source: s
          sise_gb: 1
        """,
    )
    _, issues = load_file(path)
    found = {(i.field, i.line) for i in issues}
    assert found == {
        ("suggested_models.0.repo", 9),
        ("suggested_models.0.size_gb", 11),
        ("suggested_models.0.kind", 12),
        ("suggested_models.0.sise_gb", 15),
    }, [str(i) for i in issues]
    typo = next(i for i in issues if i.field == "suggested_models.0.sise_gb")
    assert "did you mean 'size_gb'?" in typo.message


def test_duplicates_and_too_many_are_issues_at_the_list(tmp_path: Path) -> None:
    one = textwrap.dedent(
        """\
        - repo: a/b
          file: m.gguf
          size_gb: 1
          kind: llm
          note: n
          source: s
        """
    )
    _, issues = load_file(write(tmp_path, one + one))
    assert [(i.field, i.line) for i in issues] == [("suggested_models", 9)]
    assert "a/b/m.gguf is suggested twice" in issues[0].message
    many = "".join(one.replace("m.gguf", f"m{i}.gguf") for i in range(MAX_SUGGESTIONS + 1))
    _, issues = load_file(write(tmp_path, many))
    assert len(issues) == 1 and f"at most {MAX_SUGGESTIONS}" in issues[0].message
    _, issues = load_file(write(tmp_path, "not-a-list\n"))
    assert len(issues) == 1 and issues[0].field == "suggested_models"


def test_fuzzed_entries_never_crash_the_loader(tmp_path: Path) -> None:
    """Random values in every field: an issue or an app, never an exception (seeded, bounded)."""
    rng = random.Random(7)
    values: list[Any] = [
        "", "a/b", "../x", "x" * 300, 0, -1, 1e308, True, None, [], {}, [1, "a"],
        "*.gguf", "a/b/c", "\x00", "🙂/🙂", 3.5, "llm", "diffusers",
    ]  # fmt: skip
    fields = ["repo", "file", "files", "size_gb", "min_memory_gb", "kind", "note", "source"]
    for round_no in range(60):
        data = dict(GOOD)
        for name in rng.sample(fields, rng.randint(1, 4)):
            data[name] = rng.choice(values)
        text = HEAD + textwrap.indent(yaml.safe_dump([data]), "      ")
        path = tmp_path / f"f{round_no}.yml"
        path.write_text(text, encoding="utf-8")
        apps, issues = load_file(path)
        assert len(apps) + (1 if issues else 0) >= 1
        for issue in issues:
            assert issue.line is not None and issue.app_id == "x"
            assert (issue.field or "").startswith("suggested_models")


# ------------------------------------------------------------------ the bundled catalog


CATALOG = load_catalog(include_user=False)
ADDONS = {"lora", "vae", "controlnet", "embedding", "upscaler", "projector", "adapter"}


def test_the_bundled_catalog_loads_without_issues() -> None:
    assert CATALOG.issues == ()


def test_every_app_that_reads_models_has_suggestions() -> None:
    readers = [a for a in CATALOG.apps.values() if a.mounts.models or a.needs.hf_repo]
    assert len(readers) >= 12
    missing = [a.id for a in readers if not 2 <= len(a.suggested_models) <= 4]
    assert not missing, f"apps without 2-4 suggestions: {missing}"
    # InvokeAI manages its own store (no models mount) and still suggests its starter models.
    assert CATALOG.apps["invokeai"].suggested_models


def test_every_app_that_needs_a_model_file_has_one_in_its_formats() -> None:
    needing = [a for a in CATALOG.apps.values() if a.needs.model_file]
    assert {a.id for a in needing} >= {"llama-cpp-server", "koboldcpp", "pai-koboldcpp"}
    for app in needing:
        matching = [s for s in app.suggested_models if fits_formats(s, app.needs.model_file)]
        assert matching, app.id
        assert all(s.file is not None for s in matching), app.id


def test_suggestions_are_in_formats_the_app_reads() -> None:
    for app in CATALOG.apps.values():
        if app.mounts.models is None:
            continue
        wrong = [
            s.label for s in app.suggested_models if not fits_formats(s, app.mounts.models.formats)
        ]
        assert not wrong, (app.id, wrong)


def test_hf_repo_apps_suggest_whole_repos() -> None:
    for app in CATALOG.apps.values():
        if app.needs.hf_repo:
            assert all(s.file is None for s in app.suggested_models), app.id


def test_small_models_first() -> None:
    """A newcomer on a small GPU finds something that fits at the top of the list."""
    for app in CATALOG.apps.values():
        if not app.suggested_models:
            continue
        first = app.suggested_models[0]
        need = first.min_memory_gb or first.size_gb
        assert need <= 6, (app.id, first.label)
        # Add-ons (ControlNets, LoRAs, ...) come after the models they need.
        bases = [s for s in app.suggested_models if s.kind not in ADDONS]
        # Within 10%: same-size models (SDXL checkpoints) keep the docs' default first.
        assert first.size_gb <= 1.1 * min(s.size_gb for s in bases), app.id
        assert all(s.source.strip() and s.note.strip() for s in app.suggested_models)
