"""Which characters a question may carry: the rule ``validate_question`` applies.

A question is text a person typed. Control characters (Unicode category Cc:
NUL, ESC, DEL, the C1 range…) other than tab, line feed and carriage return
are refused with a message naming the character, and so are unpaired UTF-16
surrogates (``"\\ud800"`` in JSON), which are not text at all and cannot be
written back as UTF-8. Earlier turns (``history``) are context a client sends
back, often copied from answers that quote documents verbatim, so control
characters are removed from them instead of refused; surrogates are refused
there too.
"""

from __future__ import annotations

import re
import unicodedata

ALLOWED_CONTROLS = frozenset("\t\n\r")
# Cc is U+0000–U+001F and U+007F–U+009F; surrogates are U+D800–U+DFFF.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def forbidden_character(text: str) -> tuple[int, str, str] | None:
    """``(position, character, kind)`` of the first character a question may not contain, else None."""
    surrogate = _SURROGATE.search(text)
    control = _CONTROL.search(text)
    found = [m for m in (surrogate, control) if m is not None]
    if not found:
        return None
    first = min(found, key=lambda m: m.start())
    kind = "an unpaired surrogate" if first is surrogate else "a control character"
    return first.start(), first.group(0), kind


def surrogate(text: str) -> str | None:
    match = _SURROGATE.search(text)
    return match.group(0) if match else None


def without_controls(text: str) -> str:
    """``text`` without control characters other than tab, line feed and carriage return."""
    return _CONTROL.sub("", text)


def trimmed(text: str) -> str:
    """``text`` without white space or invisible format characters (Unicode
    category Cf: zero-width space, byte order mark, word joiner…) at either end.
    Inside, they stay: a zero-width non-joiner is part of a Persian word."""
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or unicodedata.category(text[start]) == "Cf"):
        start += 1
    while end > start and (text[end - 1].isspace() or unicodedata.category(text[end - 1]) == "Cf"):
        end -= 1
    return text[start:end]
