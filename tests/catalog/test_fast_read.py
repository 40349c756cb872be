"""The libyaml fast path of the catalog reader against the pure-Python loader it must match.

Every file (the bundled catalog, each hostile corpus file, generated alias graphs and nestings on
both sides of the limits) is read twice, with and without libyaml; the data, or the problem with
its line and column, must be the same, and the fast path must be the faster on the catalog.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from paitui.services.catalog import read

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"


def _outcome(text: str) -> object:
    try:
        return ("data", read.parse(text)[1])
    except read.ReadProblem as problem:
        return ("problem", problem.message, problem.line, problem.column)


def _python_only(text: str, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patch:
        patch.setattr(read, "_CSafeLoader", None)
        return _outcome(text)


def _alias_graphs(seed: int, count: int) -> Iterator[str]:
    """Chains of anchored lists, each naming the previous one ``width`` times."""
    rng = random.Random(seed)
    for _ in range(count):
        width, levels = rng.randint(2, 12), rng.randint(1, 7)
        lines = ["a0: &a0 [x, y]"]
        for level in range(1, levels):
            refs = ", ".join(f"*a{level - 1}" for _ in range(width))
            lines.append(f"a{level}: &a{level} [{refs}]")
        yield "\n".join(lines) + "\n"


def _nestings() -> Iterator[str]:
    for depth in (read.MAX_DEPTH - 1, read.MAX_DEPTH, read.MAX_DEPTH + 1, 999, 1001):
        yield "[" * depth + "]" * depth
        yield "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + "  " * depth + "v\n"


def test_libyaml_is_present() -> None:
    # The fast path is the point of the change; without the extension every read is the slow one.
    assert read._CSafeLoader is not None


@pytest.mark.parametrize(
    "path", [ROOT / "catalog.yml", *sorted(CORPUS.glob("*.yml"))], ids=lambda p: p.name
)
def test_fast_and_python_paths_agree_on_files(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    assert _outcome(text) == _python_only(text, monkeypatch)


def test_fast_and_python_paths_agree_on_aliases_and_nesting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = [*_alias_graphs(seed=17, count=40), *_nestings(), "&a [*a]", "a: !!float 1\nb: '!'\n"]
    kinds = set()
    for text in texts:
        fast = _outcome(text)
        assert fast == _python_only(text, monkeypatch), text[:80]
        kinds.add(fast[0] if isinstance(fast, tuple) else fast)
    assert kinds == {"data", "problem"}  # both sides of the limits were tried


def test_fast_path_is_faster_on_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "catalog.yml").read_text()

    def best(runs: int) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            read.parse(text)
            times.append(time.perf_counter() - start)
        return min(times)

    fast = best(3)
    with monkeypatch.context() as patch:
        patch.setattr(read, "_CSafeLoader", None)
        slow = best(3)
    assert fast < slow / 2, (fast, slow)
