"""Text from catalog files, container labels, the Hub or the engine, made safe to print on a
terminal: what a terminal would obey (escape sequences, controls, bidi overrides) is shown as a
visible escape instead.

An ESC or BEL shown as ``\\x1b``/``\\x07`` starts no sequence, so OSC 52 clipboard writes, screen
clears and title changes become plain text. Normal Unicode (accents, CJK, emoji) is untouched.
JSON output needs none of this: ``json.dumps`` escapes every control character itself.
"""

from __future__ import annotations

import re

# Colours (SGR) are dropped whole: they mean nothing out of context and can hide text.
_SGR = re.compile(r"\x1b\[[0-9;:]*m")
# C0 controls, DEL, C1 controls (some terminals read U+009B as CSI), the Unicode line and
# paragraph separators, the bidi embeddings/overrides/isolates that reorder what is shown, and
# lone surrogates (undecodable file names), which would make print() itself fail.
_UNSAFE_CLASS = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x1f{_UNSAFE_CLASS}]")
_UNSAFE_KEEP_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_UNSAFE_CLASS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, multiline: bool = False) -> str:
    """``text`` with colours dropped and every control character shown as an escape.

    ``multiline`` keeps newlines and tabs (a whole report); without it a value stays on one
    line, so it cannot forge rows of a table either.
    """
    pattern = _UNSAFE_KEEP_LINES if multiline else _UNSAFE
    return pattern.sub(_escape, _SGR.sub("", text))
