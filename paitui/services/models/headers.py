"""Read the header of a safetensors or GGUF file without loading its tensors.

These files come from the Internet, so every length and count read from them is checked against
a fixed cap and against the bytes left in the file *before* anything is read or allocated. A
hostile, truncated or unknown file gives an ``UnreadableHeader`` with a reason, never an exception
and never a large allocation. Plain ``struct`` reading: no ``gguf``/``numpy``/``safetensors``
dependency at run time.

A safetensors header at the 25 MB cap costs about twice its size in memory (the bytes and their
text; each JSON entry is decoded alone) and a few seconds at worst (24 MB of tiny ``__metadata__``
entries: 3.7 s, 48 MB peak on the dev box). GGUF reads stay far below that: string arrays are
walked, not loaded, up to ``GGUF_MAX_ARRAY_WALK`` elements (about 2 s).

Pickle checkpoints (``.ckpt``/``.pt``/``.pth``/``.bin``) are not read: unpickling runs code.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
from pathlib import Path
from typing import IO, Any

from paitui.domain.models.kinds import HeaderFacts, HeaderResult, MetaValue, UnreadableHeader

#: huggingface_hub's own cap on a safetensors header (``constants.SAFETENSORS_MAX_HEADER_LENGTH``).
SAFETENSORS_MAX_HEADER = 25_000_000
#: Tensor names kept from one header (real models have at most a few thousand).
MAX_NAMES = 100_000
#: ``__metadata__`` entries kept, and characters kept of each (kohya's tag lists can be huge).
MAX_META_ENTRIES = 1024
MAX_META_VALUE = 4096

GGUF_MAGIC = b"GGUF"
#: GGUF key/value pairs a header may have (real files: under a hundred).
GGUF_MAX_KV = 100_000
#: Longest key (the GGUF spec's limit) and longest string value kept.
GGUF_MAX_KEY = 65_535
GGUF_MAX_KEPT_STRING = 4096
#: Elements of variable-size (string) arrays walked over in one file; vocabularies with merges
#: reach about a million; walking 2 million takes about 2 s, a hostile count far longer.
GGUF_MAX_ARRAY_WALK = 2_000_000
GGUF_MAX_ARRAY_DEPTH = 4
#: Tensor infos read for their names (the rest are counted, not read).
GGUF_MAX_TENSOR_NAMES = 4096
GGUF_MAX_TENSORS = 10_000_000
GGUF_MAX_DIMS = 8

# Only these string keys are kept; scalars are kept whatever their key (they cost 8 bytes).
_KEPT_STRING_PREFIXES = (
    "general.", "split.", "adapter.", "clip.", "controlvector.", "vision.", "audio.",
)  # fmt: skip

# GGUF value types: id -> (struct code, size) for the fixed-size ones.
_GGUF_SCALARS: dict[int, tuple[str, int]] = {
    0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4),
    6: ("f", 4), 7: ("?", 1), 10: ("Q", 8), 11: ("q", 8), 12: ("d", 8),
}  # fmt: skip
_GGUF_STRING = 8
_GGUF_ARRAY = 9


class _Bad(Exception):
    """A header that cannot be read; the message is the reason shown to the user."""


def read_model_header(path: Path) -> HeaderResult:
    """The header facts of a safetensors or GGUF file at ``path``, or why they cannot be had."""
    try:
        st = os.stat(path)
    except OSError as err:
        return UnreadableHeader(f"cannot open: {err.strerror or err}")
    # A FIFO or device would block or never end: only regular files are read.
    if not stat.S_ISREG(st.st_mode):
        return UnreadableHeader("not a regular file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
            fh.seek(0)
            if magic[:4] == GGUF_MAGIC:
                return _read_gguf(fh, st.st_size)
            suffix = Path(path).suffix.lower()
            if suffix in (".ckpt", ".pt", ".pth", ".bin", ".pkl"):
                return UnreadableHeader("pickle file: not read (unpickling runs code)", "pickle")
            if suffix == ".gguf":
                return UnreadableHeader("not a GGUF file (wrong magic)", "gguf")
            return _read_safetensors(fh, st.st_size)
    except _Bad as err:
        return UnreadableHeader(str(err), _format_of(path))
    except OSError as err:
        return UnreadableHeader(f"read error: {err.strerror or err}", _format_of(path))


def _format_of(path: Path) -> str | None:
    suffix = Path(path).suffix.lower()
    return {".gguf": "gguf", ".safetensors": "safetensors"}.get(suffix)


# --- safetensors ---------------------------------------------------------------------------------


def _read_safetensors(fh: IO[bytes], size: int) -> HeaderFacts:
    first = fh.read(8)
    if len(first) < 8:
        raise _Bad("file too short for a safetensors header")
    (length,) = struct.unpack("<Q", first)
    if length > SAFETENSORS_MAX_HEADER:
        raise _Bad(f"safetensors header length {length} is over the {SAFETENSORS_MAX_HEADER} cap")
    if length < 2 or length > size - 8:
        raise _Bad(f"safetensors header length {length} does not fit a {size}-byte file")
    raw = fh.read(length)
    if len(raw) != length:
        raise _Bad("file shorter than its safetensors header")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _Bad(f"safetensors header is not UTF-8 (byte {err.start})") from None
    names: list[str] = []
    meta: dict[str, MetaValue] = {}
    count, data_end = _walk_safetensors_json(text, names, meta)
    return HeaderFacts(
        "safetensors", tuple(names), count, meta, data_end=8 + length + data_end, file_size=size
    )


_JSON = json.JSONDecoder()
_BLANKS = re.compile(r"[ \t\n\r]+")
#: Longest JSON text of one tensor entry (``{"dtype":..,"shape":[..],"data_offsets":[..]}``).
_MAX_ENTRY = 4096


def _walk_safetensors_json(
    text: str, names: list[str], meta: dict[str, MetaValue]
) -> tuple[int, int]:
    """Walk the header object one entry at a time; returns (tensor count, data bytes needed).

    ``json.loads`` of the whole text would build a dict per tensor, and a hostile header of
    millions of tiny entries would take gigabytes; here each entry is decoded alone and dropped,
    so memory is the text plus the kept names.
    """
    pos = _expect(text, 0, "{")
    count = end = 0
    if text.startswith("}", pos):
        return 0, 0
    while True:
        key, pos = _json_string(text, pos, "tensor name")
        pos = _expect(text, pos, ":")
        if key == "__metadata__":
            pos = _walk_metadata(text, pos, meta)
        else:
            entry_end = text.find("}", pos, pos + _MAX_ENTRY)
            if not text.startswith("{", pos) or entry_end < 0:
                raise _Bad(f"safetensors entry {key[:80]!r} is not a tensor")
            end = max(end, _tensor_end(key, text[pos : entry_end + 1]))
            pos = entry_end + 1
            count += 1
            if len(names) < MAX_NAMES:
                names.append(key)
        pos = _blank(text, pos)
        if text.startswith(",", pos):
            pos = _blank(text, pos + 1)
            continue
        pos = _expect(text, pos, "}")
        if text[pos:].strip(" \t\n\r"):
            raise _Bad("safetensors header has data after its JSON object")
        return count, end


def _walk_metadata(text: str, pos: int, meta: dict[str, MetaValue]) -> int:
    pos = _expect(text, pos, "{")
    if text.startswith("}", pos):
        return pos + 1
    while True:
        key, pos = _json_string(text, pos, "__metadata__ key")
        pos = _expect(text, pos, ":")
        value, pos = _json_string(text, pos, f"__metadata__ value of {key[:80]!r}")
        if len(meta) < MAX_META_ENTRIES:
            meta[key] = value[:MAX_META_VALUE]
        pos = _blank(text, pos)
        if text.startswith(",", pos):
            pos = _blank(text, pos + 1)
            continue
        return _expect(text, pos, "}")


def _blank(text: str, pos: int) -> int:
    """The position after the JSON blanks at ``pos``."""
    match = _BLANKS.match(text, pos)
    return match.end() if match else pos


def _expect(text: str, pos: int, char: str) -> int:
    """The position after ``char`` (and the blanks around it) at ``pos``."""
    pos = _blank(text, pos)
    if not text.startswith(char, pos):
        raise _Bad(f"safetensors header is not valid JSON (expected {char!r} at {pos})")
    return _blank(text, pos + 1)


def _json_string(text: str, pos: int, what: str) -> tuple[str, int]:
    if not text.startswith('"', pos):
        raise _Bad(f"safetensors header: {what} is not a JSON string (at {pos})")
    try:
        value, pos = _JSON.raw_decode(text, pos)
    except ValueError as err:
        raise _Bad(f"safetensors header is not valid JSON ({err})") from None
    assert isinstance(value, str)
    return value, pos


def _tensor_end(key: str, entry_text: str) -> int:
    """The end offset of one tensor entry's data, after checking the entry's shape."""
    try:
        entry = json.loads(entry_text)
    except (ValueError, RecursionError):
        entry = None
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("dtype"), str)
        or not isinstance(entry.get("shape"), list)
        or not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int and o >= 0 for o in offsets)
    ):
        raise _Bad(f"safetensors entry {key[:80]!r} is not a tensor")
    end: int = offsets[1]
    return end


# --- GGUF ----------------------------------------------------------------------------------------


class _GGUFReader:
    """Bounded little/big-endian reads over a GGUF file."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self.fh = fh
        self.size = size
        self.pos = 0
        self.endian = "<"
        self.walked = 0

    def need(self, n: int, what: str) -> None:
        if n < 0 or n > self.size - self.pos:
            raise _Bad(f"GGUF {what} runs past the end of the file (truncated or corrupt)")

    def read(self, n: int, what: str) -> bytes:
        self.need(n, what)
        data = self.fh.read(n)
        if len(data) != n:
            raise _Bad(f"GGUF {what} runs past the end of the file")
        self.pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        self.need(n, what)
        self.pos += n
        self.fh.seek(self.pos)

    def scalar(self, code: str, size: int, what: str) -> Any:
        return struct.unpack(self.endian + code, self.read(size, what))[0]

    def u32(self, what: str) -> int:
        value: int = self.scalar("I", 4, what)
        return value

    def u64(self, what: str) -> int:
        value: int = self.scalar("Q", 8, what)
        return value

    def string(self, what: str, cap: int) -> str | None:
        """A GGUF string; None (skipped, not read) when longer than ``cap``."""
        n = self.u64(f"{what} length")
        self.need(n, what)
        if n > cap:
            self.skip(n, what)
            return None
        return self.read(n, what).decode("utf-8", "replace")

    def skip_value(self, vtype: int, what: str, depth: int = 0) -> None:
        if vtype in _GGUF_SCALARS:
            self.skip(_GGUF_SCALARS[vtype][1], what)
        elif vtype == _GGUF_STRING:
            self.skip(self.u64(f"{what} length"), what)
        elif vtype == _GGUF_ARRAY:
            if depth >= GGUF_MAX_ARRAY_DEPTH:
                raise _Bad(f"GGUF {what}: arrays nested too deeply")
            etype = self.u32(f"{what} element type")
            count = self.u64(f"{what} count")
            if etype in _GGUF_SCALARS:
                self.skip(count * _GGUF_SCALARS[etype][1], what)
                return
            if etype not in (_GGUF_STRING, _GGUF_ARRAY):
                raise _Bad(f"GGUF {what}: unknown element type {etype}")
            # Each element takes at least 8 bytes, so a count the file cannot hold stops here.
            self.need(count * 8, what)
            self.walked += count
            if self.walked > GGUF_MAX_ARRAY_WALK:
                raise _Bad(f"GGUF arrays hold over {GGUF_MAX_ARRAY_WALK} strings")
            if etype == _GGUF_STRING:
                self._skip_strings(count, what)
            else:
                for _ in range(count):
                    self.skip_value(etype, what, depth + 1)
        else:
            raise _Bad(f"GGUF {what}: unknown value type {vtype}")

    def _skip_strings(self, count: int, what: str) -> None:
        # Walk the length prefixes in chunks: one read per MiB, not two calls per string.
        fmt = self.endian + "Q"
        chunk = b""
        at = 0  # offset of ``chunk`` in the file
        left = count
        while left:
            off = self.pos - at
            if off + 8 > len(chunk):
                self.fh.seek(self.pos)
                at = self.pos
                chunk = self.fh.read(min(1 << 20, self.size - self.pos))
                off = 0
                if len(chunk) < 8:
                    raise _Bad(f"GGUF {what} runs past the end of the file")
            (n,) = struct.unpack_from(fmt, chunk, off)
            self.pos += 8
            self.need(n, what)
            self.pos += n
            left -= 1
        self.fh.seek(self.pos)


def _read_gguf(fh: IO[bytes], size: int) -> HeaderFacts:
    r = _GGUFReader(fh, size)
    r.read(4, "magic")
    raw_version = r.read(4, "version")
    version = struct.unpack("<I", raw_version)[0]
    if version & 0xFFFF == 0 and struct.unpack(">I", raw_version)[0] in (2, 3):
        r.endian = ">"  # a big-endian GGUF (s390x builds write these)
        version = struct.unpack(">I", raw_version)[0]
    if version == 1:
        raise _Bad("GGUF version 1 is not supported (convert the file again with llama.cpp)")
    if version not in (2, 3):
        raise _Bad(f"unknown GGUF version {version}")
    n_tensors = r.u64("tensor count")
    n_kv = r.u64("key/value count")
    if n_kv > GGUF_MAX_KV:
        raise _Bad(f"GGUF claims {n_kv} key/value pairs (over the {GGUF_MAX_KV} cap)")
    if n_tensors > GGUF_MAX_TENSORS:
        raise _Bad(f"GGUF claims {n_tensors} tensors (over the {GGUF_MAX_TENSORS} cap)")
    meta: dict[str, MetaValue] = {}
    for i in range(n_kv):
        key = r.string(f"key {i}", GGUF_MAX_KEY)
        if key is None:
            raise _Bad(f"GGUF key {i} is longer than {GGUF_MAX_KEY} bytes")
        vtype = r.u32(f"type of {key[:80]}")
        what = f"value of {key[:80]}"
        if vtype in _GGUF_SCALARS:
            code, width = _GGUF_SCALARS[vtype]
            meta[key] = r.scalar(code, width, what)
        elif vtype == _GGUF_STRING and key.startswith(_KEPT_STRING_PREFIXES):
            value = r.string(what, GGUF_MAX_KEPT_STRING)
            if value is not None:
                meta[key] = value
        else:
            r.skip_value(vtype, what)
    names: list[str] = []
    for i in range(min(n_tensors, GGUF_MAX_TENSOR_NAMES)):
        name = r.string(f"tensor {i} name", GGUF_MAX_KEY)
        if name is None:
            raise _Bad(f"GGUF tensor {i} name is longer than {GGUF_MAX_KEY} bytes")
        dims = r.u32(f"tensor {name[:80]} dimensions")
        if dims > GGUF_MAX_DIMS:
            raise _Bad(f"GGUF tensor {name[:80]!r} has {dims} dimensions")
        r.skip(dims * 8 + 4 + 8, f"tensor {name[:80]} info")
        names.append(name)
    return HeaderFacts("gguf", tuple(names), n_tensors, meta, version=version, file_size=size)
