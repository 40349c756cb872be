"""The layout of a GGUF file from its first bytes: metadata scalars and every tensor's type/shape.

Pure: parses a ``bytes`` prefix of the file. When the prefix ends before the header does it
raises ``GgufNeedMore`` with how many bytes it needs at least, so a caller reading over HTTP
Range requests (or a local file) can grow its read and try again. Every count and length is
checked against a cap and against the file's size before anything is allocated, like
``services.models.headers``; that reader keeps tensor names only, the estimator needs each
tensor's type and shape, hence this second, prefix-based parser.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

GGUF_MAGIC = b"GGUF"
#: The most header bytes read (metadata + tensor infos). Vocabularies of 256k tokens with merges
#: take ~15 MB; a header claiming more is refused rather than fetched.
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_KV = 100_000
MAX_TENSORS = 1_000_000
MAX_DIMS = 8
MAX_KEY = 65_535
#: Strings kept (``general.*`` and ``<arch>.*``), and int arrays kept (per-layer head counts).
MAX_KEPT_STRING = 4096
MAX_KEPT_ARRAY = 4096
ARRAY_NEST = 4

#: ggml tensor types: id -> (name, elements per block, bytes per block) (ggml.c's type_traits).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
}  # fmt: skip

_SCALARS: dict[int, tuple[str, int]] = {
    0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4),
    6: ("f", 4), 7: ("?", 1), 10: ("Q", 8), 11: ("q", 8), 12: ("d", 8),
}  # fmt: skip
_STRING = 8
_ARRAY = 9

Meta = int | float | bool | str | tuple[int, ...]


class GgufBad(ValueError):
    """Not a usable GGUF header; the message says why (shown to the user)."""


class GgufNeedMore(Exception):
    """The prefix ends inside the header: read at least ``size`` bytes and parse again."""

    def __init__(self, size: int) -> None:
        super().__init__(f"need {size} bytes")
        self.size = size


@dataclass(frozen=True)
class TensorInfo:
    """One tensor: its name, ggml type id and shape; ``nbytes`` is its size in the file."""

    name: str
    ggml_type: int
    shape: tuple[int, ...]
    nbytes: int

    @property
    def type_name(self) -> str:
        return GGML_TYPES[self.ggml_type][0]


@dataclass(frozen=True)
class GgufLayout:
    """What a GGUF header says: metadata (scalars, kept strings, int arrays) and tensors."""

    version: int
    meta: dict[str, Meta]
    tensors: tuple[TensorInfo, ...]
    header_bytes: int
    file_size: int | None = None

    @property
    def architecture(self) -> str:
        arch = self.meta.get("general.architecture")
        return arch if isinstance(arch, str) else ""

    @property
    def tensor_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


def tensor_nbytes(ggml_type: int, shape: tuple[int, ...], name: str = "?") -> int:
    """Bytes a tensor of this type and shape takes (rows are whole blocks)."""
    if ggml_type not in GGML_TYPES:
        raise GgufBad(f"tensor {name[:80]!r} has unknown ggml type {ggml_type}")
    _, block, size = GGML_TYPES[ggml_type]
    elements = 1
    for d in shape:
        elements *= d
    if shape and shape[0] % block:
        raise GgufBad(f"tensor {name[:80]!r}: row of {shape[0]} is not whole {block}-blocks")
    return elements // block * size


class _Cursor:
    def __init__(self, buf: bytes, file_size: int | None) -> None:
        self.buf = buf
        self.pos = 0
        self.end = file_size if file_size is not None else None
        self.endian = "<"

    def take(self, n: int, what: str) -> bytes:
        if n < 0:
            raise GgufBad(f"GGUF {what}: negative length")
        stop = self.pos + n
        if self.end is not None and stop > self.end:
            raise GgufBad(f"GGUF {what} runs past the end of the file (truncated or corrupt)")
        if stop > MAX_HEADER_BYTES:
            raise GgufBad(f"GGUF header is over {MAX_HEADER_BYTES >> 20} MiB ({what}): refused")
        if stop > len(self.buf):
            # Twice what was had, at least up to ``stop``: few round trips on big vocabularies.
            want = max(stop, min(2 * len(self.buf), MAX_HEADER_BYTES))
            raise GgufNeedMore(min(want, self.end) if self.end is not None else want)
        data = self.buf[self.pos : stop]
        self.pos = stop
        return data

    def scalar(self, code: str, width: int, what: str) -> int | float | bool:
        value: int | float | bool = struct.unpack(self.endian + code, self.take(width, what))[0]
        return value

    def u32(self, what: str) -> int:
        return int(self.scalar("I", 4, what))

    def u64(self, what: str) -> int:
        return int(self.scalar("Q", 8, what))

    def string(self, what: str, cap: int) -> str | None:
        n = self.u64(f"{what} length")
        data = self.take(n, what)
        return data.decode("utf-8", "replace") if n <= cap else None

    def skip_value(self, vtype: int, what: str, depth: int = 0) -> None:
        if vtype in _SCALARS:
            self.take(_SCALARS[vtype][1], what)
        elif vtype == _STRING:
            self.take(self.u64(f"{what} length"), what)
        elif vtype == _ARRAY:
            self.array(what, depth, keep=False)
        else:
            raise GgufBad(f"GGUF {what}: unknown value type {vtype}")

    def array(self, what: str, depth: int, *, keep: bool) -> tuple[int, ...] | None:
        if depth >= ARRAY_NEST:
            raise GgufBad(f"GGUF {what}: arrays nested too deeply")
        etype = self.u32(f"{what} element type")
        count = self.u64(f"{what} count")
        if etype in _SCALARS:
            code, width = _SCALARS[etype]
            data = self.take(count * width, what)
            if keep and code in "BbHhIiQq" and count <= MAX_KEPT_ARRAY:
                return tuple(int(v) for v in struct.unpack(f"{self.endian}{count}{code}", data))
            return None
        if etype not in (_STRING, _ARRAY):
            raise GgufBad(f"GGUF {what}: unknown element type {etype}")
        # Each element takes at least 8 bytes: a count the header cannot hold stops here.
        if count * 8 > MAX_HEADER_BYTES:
            raise GgufBad(f"GGUF {what} claims {count} elements: refused")
        if etype == _STRING:
            for _ in range(count):
                self.take(self.u64(f"{what} length"), what)
        else:
            for _ in range(count):
                self.array(what, depth + 1, keep=False)
        return None


def parse_gguf_layout(buf: bytes, file_size: int | None = None) -> GgufLayout:
    """The layout from a prefix of a GGUF file (``file_size``: the whole file's, when known).

    Raises ``GgufNeedMore`` when the prefix is too short, ``GgufBad`` when the header is not
    a GGUF v2/v3 header or claims more than the caps allow.
    """
    c = _Cursor(buf, file_size)
    if len(buf) < 4 and (file_size is None or file_size >= 4):
        raise GgufNeedMore(4096)
    if c.take(4, "magic") != GGUF_MAGIC:
        raise GgufBad("not a GGUF file (wrong magic)")
    raw = c.take(4, "version")
    version = struct.unpack("<I", raw)[0]
    if version & 0xFFFF == 0 and struct.unpack(">I", raw)[0] in (2, 3):
        c.endian = ">"
        version = struct.unpack(">I", raw)[0]
    if version not in (2, 3):
        raise GgufBad(f"unsupported GGUF version {version}")
    n_tensors = c.u64("tensor count")
    n_kv = c.u64("key/value count")
    if n_kv > MAX_KV:
        raise GgufBad(f"GGUF claims {n_kv} key/value pairs (over the {MAX_KV} cap)")
    if n_tensors > MAX_TENSORS:
        raise GgufBad(f"GGUF claims {n_tensors} tensors (over the {MAX_TENSORS} cap)")
    meta: dict[str, Meta] = {}
    for i in range(n_kv):
        key = c.string(f"key {i}", MAX_KEY)
        if key is None:
            raise GgufBad(f"GGUF key {i} is longer than {MAX_KEY} bytes")
        vtype = c.u32(f"type of {key[:80]}")
        what = f"value of {key[:80]}"
        if vtype in _SCALARS:
            meta[key] = c.scalar(*_SCALARS[vtype], what)
        elif vtype == _STRING and not key.startswith("tokenizer."):
            value = c.string(what, MAX_KEPT_STRING)
            if value is not None:
                meta[key] = value
        elif vtype == _ARRAY and not key.startswith("tokenizer."):
            kept = c.array(what, 0, keep=True)
            if kept is not None:
                meta[key] = kept
        elif vtype == _ARRAY and key == "tokenizer.ggml.tokens":
            # The vocabulary size is the count; the strings are skipped.
            at = c.pos
            c.u32(what)
            meta["tokenizer.ggml.tokens.count"] = c.u64(what)
            c.pos = at
            c.skip_value(vtype, what)
        else:
            c.skip_value(vtype, what)
    tensors: list[TensorInfo] = []
    for i in range(n_tensors):
        name = c.string(f"tensor {i} name", MAX_KEY)
        if name is None:
            raise GgufBad(f"GGUF tensor {i} name is longer than {MAX_KEY} bytes")
        dims = c.u32(f"tensor {name[:80]} dimensions")
        if dims > MAX_DIMS:
            raise GgufBad(f"GGUF tensor {name[:80]!r} has {dims} dimensions")
        shape = struct.unpack(f"{c.endian}{dims}Q", c.take(8 * dims, f"tensor {name[:80]} shape"))
        gtype = c.u32(f"tensor {name[:80]} type")
        c.u64(f"tensor {name[:80]} offset")
        tensors.append(TensorInfo(name, gtype, shape, tensor_nbytes(gtype, shape, name)))
    return GgufLayout(version, meta, tuple(tensors), c.pos, file_size)
