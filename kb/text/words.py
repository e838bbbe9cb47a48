"""Words and names: how strings are compared, and how a name is shown on one line."""

from __future__ import annotations

import re
import unicodedata

# A word: letters only (no digits, no underscore), in any script.
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def fold(text: str) -> str:
    """NFKC, casefold and collapsed whitespace: how strings are compared."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def strip_diacritics(text: str) -> str:
    """``text`` without its combining marks ("estratégia" -> "estrategia")."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# The Arabic script's blocks (Arabic, its Supplement and Extended-A), as a character class's ranges.
ARABIC_SCRIPT = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff"
# What a terminal would obey rather than show in a file's name, and what would
# break its line: C0 controls (tab and line feed too), DEL, C1 controls, line
# and paragraph separators, the bidi controls that reorder a line, and the lone
# surrogates that stand for bytes of a name that are not UTF-8.
_NAME_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def shown_name(name: str) -> str:
    """``name`` (a file's, a folder's) on one line, each control character as its
    escape: "news\\nletter.txt" for a name with a line break in it. ``kb show``
    takes a source in this form too."""
    return _NAME_CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), name)
