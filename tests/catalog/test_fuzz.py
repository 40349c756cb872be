"""Catalog fuzzer: mutated files never crash or hang the loader, and every problem is located.

Seeded and bounded: ``PAITUI_FUZZ_SEED`` and ``PAITUI_FUZZ_CASES`` (default 300) choose the
run; each case runs under a deadline, and a hang or crash fails with the seed, the case number
and the mutations. ``PAITUI_FUZZ_SAVE=DIR`` keeps the failing files, to be added to ``corpus/``
with the issue they must now give.
"""

from __future__ import annotations

import os
import random
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from paitui.cli.catalog import app_record, format_list, issue_record
from paitui.domain.catalog.schema import Catalog, host_access
from paitui.services.catalog.loader import check_file
from paitui.services.catalog.read import MAX_BYTES
from tests.catalog.fuzz import Hang, base_apps, deadline, make_case

SEED = int(os.environ.get("PAITUI_FUZZ_SEED", "20240611"))
CASES = int(os.environ.get("PAITUI_FUZZ_CASES", "300"))
#: A case is a hang past this; the slowest legitimate one takes a few tens of ms.
CASE_DEADLINE_S = 2.0


def run_case(path: Path) -> tuple[int, int]:
    """Load one file and use what loaded as the commands do; AssertionError on a broken rule."""
    apps, issues, warnings = check_file(path)
    for issue in [*issues, *warnings]:
        text = str(issue)
        # Located: only a problem with the file as a whole (too big) has no line.
        assert (issue.line is not None and issue.column is not None) or (
            "byte limit" in issue.message
        ), text
        assert text.isprintable(), text  # one line, no control characters from the file
        text.encode("utf-8")  # printable as is
        issue_record(issue)
    for app in apps:
        app_record(app, str(path))
        app.model_dump_json()  # what the planner hashes
        for variant in app.variants.values():
            host_access(variant)
    format_list(Catalog(apps={a.id: a for a in apps})).encode("utf-8")
    return len(apps), len(issues)


def fuzz(seed: int, cases: int, folder: Path) -> dict[str, Any]:
    """Run ``cases`` seeded cases; the figures, and a description of each failure."""
    rng = random.Random(seed)
    bases = base_apps()
    failures: list[str] = []
    hangs = loaded = with_issues = 0
    slowest = 0.0
    save = os.environ.get("PAITUI_FUZZ_SAVE")
    started = time.monotonic()
    for case in range(cases):
        raw, ops = make_case(rng, bases)
        path = folder / f"case-{case}.yml"
        path.write_bytes(raw[: MAX_BYTES + 10])
        t0 = time.monotonic()
        failure = None
        try:
            with deadline(CASE_DEADLINE_S):
                n_apps, n_issues = run_case(path)
            loaded += n_apps > 0
            with_issues += n_issues > 0
        except Hang:
            hangs += 1
            failure = "hang"
        except Exception:
            failure = traceback.format_exc(limit=-3)
        elapsed = time.monotonic() - t0
        slowest = max(slowest, elapsed)
        if failure is None and elapsed > CASE_DEADLINE_S:
            failure = f"took {elapsed:.2f} s"
        if failure is not None:
            failures.append(f"seed {seed} case {case} {ops}: {failure}")
            if save:
                Path(save).mkdir(parents=True, exist_ok=True)
                (Path(save) / f"seed{seed}-case{case}.yml").write_bytes(raw)
        path.unlink()
    return {
        "cases": cases,
        "failures": failures,
        "hangs": hangs,
        "loaded": loaded,
        "with_issues": with_issues,
        "slowest_s": slowest,
        "total_s": time.monotonic() - started,
    }


def test_unmutated_bases_load_cleanly(tmp_path: Path) -> None:
    """The cases start from valid entries, so a mutation is what makes an issue."""
    import yaml

    path = tmp_path / "bases.yml"
    path.write_text(yaml.safe_dump({"apps": base_apps()}, allow_unicode=True), encoding="utf-8")
    apps, issues, _ = check_file(path)
    assert issues == []
    assert len(apps) == len(base_apps())


def test_fuzz_catalog_loader(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = fuzz(SEED, CASES, tmp_path)
    with capsys.disabled():
        print(
            f"\ncatalog fuzz: seed {SEED}, {result['cases']} cases, "
            f"{len(result['failures'])} failures ({result['hangs']} hangs), "
            f"{result['loaded']} with apps, {result['with_issues']} with issues, "
            f"slowest {result['slowest_s'] * 1000:.0f} ms, total {result['total_s']:.1f} s"
        )
    assert result["failures"] == [], "\n".join(result["failures"][:10])
    # The mutator must reach both outcomes, or it tests nothing.
    assert result["loaded"] > CASES // 10 and result["with_issues"] > CASES // 2, result
