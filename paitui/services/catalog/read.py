"""Read one catalog file with bounded work: the file, its text and its YAML.

Only a regular file of at most ``MAX_BYTES`` is read (a FIFO would block forever, ``/dev/zero``
never ends). The text must be UTF-8. The YAML loader is PyYAML's safe one with three limits, so
a hostile or broken file costs at most about a second and tens of MiB:

- ``MAX_DEPTH`` levels of nesting (the composer recurses once per level, and the scanner's
  cost grows with the number of open flow brackets);
- ``MAX_NODES`` nodes once every alias is expanded (an 11-line "billion laughs" file expands
  to 9**9 nodes; the loader counts an alias at the size of the node it names, so it stops after
  the first aliases that pass the limit instead of building or walking the expansion);
- no explicit tags other than ``!!str``, ``!!seq`` and ``!!map`` (``!!float x`` or
  ``!!python/...`` would run a constructor the catalog has no use for).

Every problem raises ``ReadProblem`` with the 1-based line and column where it was found.

Where PyYAML has its C extension (libyaml), a file is first read with it (51 ms → 6 ms for the
bundled catalog): libyaml composes aliases as shared nodes (no expansion) and stops at 1,000
levels, then the node graph is checked against the same limits in one pass. Any problem, or any
file the fast path is unsure of, is read again by the pure-Python loader, so every message and
location stays the same.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from paitui.services.catalog.files import MAX_BYTES, ReadProblem, read_bytes

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "ReadProblem", "decode", "parse", "read_bytes"]

#: The bundled catalog nests 8 levels deep; 50 leaves room and keeps recursion shallow.
MAX_DEPTH = 50
#: The bundled catalog has ~1,500 nodes (~50 per KiB), so a 512 KiB file of ordinary catalog
#: YAML has ~25,000; composing and validating cost ~20 us a node, so this caps the work near a
#: second (measured: 50,000 values in 2.0 s on a busy 2-core box where the bundled catalog
#: took 0.10 s, about twice its idle time).
MAX_NODES = 50_000

_PLAIN_TAGS = frozenset(
    {None, "!", "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}
)
#: What YAML counts as a line break (a CRLF pair is one), as PyYAML's marks count them.
_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of character ``pos`` in ``text``, with YAML's line breaks."""
    line, start = 1, 0
    for m in _BREAK.finditer(text, 0, pos):
        line += 1
        start = m.end()
    return line, pos - start + 1


def decode(data: bytes) -> str:
    """UTF-8 text (a leading BOM dropped); ReadProblem at the first undecodable byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8", errors="replace")
        line, column = line_col(good, len(good))
        bad = data[exc.start : exc.start + 1].hex()
        raise ReadProblem(
            f"not UTF-8 text: byte 0x{bad} cannot be decoded; save the file as UTF-8",
            line,
            column,
        ) from None
    return text.removeprefix("\ufeff")


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def _marked(problem: str, mark: Any) -> yaml.MarkedYAMLError:
    return yaml.MarkedYAMLError(problem=problem, problem_mark=mark)


class _CheckedConstructor:
    """Turns the safe constructor's ValueError into a located problem; joins surrogate pairs."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # A plain scalar that looks like a date or a number but is not one (2024-02-30, an int of
        # 5,000 digits) makes the constructor raise ValueError; report it at that value.
        try:
            data = super().construct_object(node, deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except (ValueError, OverflowError, TypeError) as exc:
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            shown = value if len(value) <= 40 else value[:39] + "…"
            # Python's own wording ("use sys.set_int_max_str_digits()") says nothing to a user.
            why = "the number has too many digits" if "digits" in str(exc) else str(exc)
            raise _marked(
                f"cannot read the value {shown!r}: {why}; quote it to keep it as text",
                node.start_mark,
            ) from None
        # JSON-style escapes write a character beyond U+FFFF as a surrogate pair ("\ud83e\udd16"),
        # which PyYAML keeps as two halves: join them. A lone half is no character at all.
        if isinstance(data, str) and _SURROGATE.search(data):
            data = _join_surrogate_pairs(data)
        if isinstance(data, str) and _SURROGATE.search(data):
            raise _marked(
                "the value holds a lone surrogate escape (\\ud800-\\udfff), which is not a "
                "character: write the character itself",
                node.start_mark,
            )
        return data


class _BoundedLoader(_CheckedConstructor, yaml.SafeLoader):
    """PyYAML's safe loader with nesting, alias-expansion and tag limits (see the module doc)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._deepest = 0
        self._count = 0
        #: id(node) -> (expanded size, height) of every node composed so far; a node that an
        #: alias names but that is missing here is still open, so the alias is recursive.
        self._sizes: dict[int, tuple[int, int]] = {}

    def _grow(self, nodes: int, mark: Any) -> None:
        self._count += nodes
        if self._count > MAX_NODES:
            raise _marked(
                f"more than {MAX_NODES} values once aliases are expanded "
                "(an alias bomb?): use fewer aliases or split the file",
                mark,
            )

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = self.anchors.get(event.anchor) if event.anchor is not None else None
            if node is not None:
                sizes = self._sizes.get(id(node))
                if sizes is None:
                    raise _marked(
                        f"recursive alias *{event.anchor}: it refers to a value that contains it",
                        event.start_mark,
                    )
                size, height = sizes
                self._grow(size, event.start_mark)
                self._check_depth(self._depth + height, event.start_mark)
                self._deepest = max(self._deepest, self._depth + height)
            return super().compose_node(parent, index)
        tag = getattr(event, "tag", None)
        if tag not in _PLAIN_TAGS:
            raise _marked(
                f"the tag {_tag_name(str(tag))} is not allowed: write the plain value "
                "(a catalog holds strings, numbers, booleans, lists and mappings)",
                event.start_mark,
            )
        self._depth += 1
        self._check_depth(self._depth, event.start_mark)
        outer_deepest, self._deepest = self._deepest, self._depth
        start = self._count
        self._grow(1, event.start_mark)
        composed = super().compose_node(parent, index)
        self._sizes[id(composed)] = (self._count - start, self._deepest - self._depth + 1)
        self._deepest = max(outer_deepest, self._deepest)
        self._depth -= 1
        return composed

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # The scanner reads ahead while a simple key is possible, and checks every open flow
        # level for each token: 3,000 nested '[' cost a second before the composer saw the
        # depth. Stop at the bracket that passes the limit instead.
        if self.flow_level >= MAX_DEPTH:
            raise _marked(
                f"nested more than {MAX_DEPTH} levels deep: flatten the structure",
                self.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass)

    def _check_depth(self, depth: int, mark: Any) -> None:
        if depth > MAX_DEPTH:
            raise _marked(
                f"nested more than {MAX_DEPTH} levels deep: flatten the structure",
                mark,
            )


def _join_surrogate_pairs(text: str) -> str:
    try:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return text  # a lone half stays, and is reported


_CSafeLoader: Any = getattr(yaml, "CSafeLoader", None)


class _Unsure(Exception):
    """The fast path cannot vouch for this file: read it with the pure-Python loader."""


def _within_limits(root: yaml.Node) -> bool:
    """Whether the node graph, aliases expanded, stays within MAX_NODES and MAX_DEPTH.

    Shared nodes (aliases) are measured once, so an alias bomb costs its size in the file, not
    its expansion; the walk stops at the first level past MAX_DEPTH, and a cycle (a recursive
    alias) is not within limits.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(collection) -> (expanded size, height)
    open_: set[int] = set()
    scalar = yaml.ScalarNode

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in open_ or depth > MAX_DEPTH:
            raise _Unsure
        open_.add(key)
        size, height = 1, 1
        value = node.value
        parts = [p for pair in value for p in pair] if isinstance(node, yaml.MappingNode) else value
        for child in parts:
            if isinstance(child, scalar):
                size += 1
                height = max(height, 2)  # a value is a level of its own
                continue
            child_size, child_height = measure(child, depth + 1)
            size += child_size
            height = max(height, child_height + 1)
        if size > MAX_NODES or depth + height - 1 > MAX_DEPTH:
            raise _Unsure
        open_.discard(key)
        sizes[key] = (size, height)
        return size, height

    if isinstance(root, scalar):
        return True
    try:
        measure(root, 1)
    except _Unsure:
        return False
    return True


def _explicit_tags_plain(text: str) -> bool:
    """Whether every explicit tag is a plain one (no ``!`` in the text: no tag at all)."""
    if "!" not in text:
        return True
    for event in yaml.parse(text, Loader=_CSafeLoader):
        if getattr(event, "tag", None) not in _PLAIN_TAGS:
            return False
    return True


def _parse_fast(text: str) -> tuple[yaml.Node | None, Any]:
    """libyaml's parse, checked against the limits; raises _Unsure for anything doubtful."""
    if _CSafeLoader is None:
        raise _Unsure
    try:
        yaml.reader.Reader(text)  # the same character check as the Python loader
        if not _explicit_tags_plain(text):
            raise _Unsure
        loader = _FastLoader(text)
        try:
            root = loader.get_single_node()
            if root is not None and not _within_limits(root):
                raise _Unsure
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError, ValueError, TypeError):
        raise _Unsure from None
    return root, data


if _CSafeLoader is not None:

    class _FastLoader(_CheckedConstructor, _CSafeLoader):  # type: ignore[misc]
        """libyaml's safe loader with the checked constructor."""


def parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for locations) and the data of one YAML document, within the limits."""
    try:
        return _parse_fast(text)
    except _Unsure:
        pass
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # checks every character first (ReaderError)
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.reader.ReaderError as exc:
        line, column = line_col(text, exc.position)
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ReadProblem(
            f"not valid YAML: character {char:#06x} is not allowed in YAML; "
            "remove it or write it as an escape in a double-quoted string",
            line,
            column,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable"
        raise ReadProblem(
            f"not valid YAML: {problem}",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    except RecursionError:
        # Bounded nesting keeps the composer shallow; a long chain of merge keys (<<) could still
        # recurse in PyYAML's constructor.
        raise ReadProblem("not valid YAML: the structure is too deeply linked", 1, 1) from None
    finally:
        if loader is not None:
            loader.dispose()
    return root, data
