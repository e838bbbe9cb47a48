"""Letters of a script the answer's language does not write: a generated answer in
Arabic with a Russian word inside ("которой") is set aside as soon as it shows.

Latin letters are allowed in any answer (names, loanwords: "omnichannel",
"Worten"); quotations are left out (they keep their source's script).
"""

from __future__ import annotations

import re

from kb.answer.citations import MARKERS
from kb.text import language as lang
from kb.text.sentences import without_quotations

# Scripts told apart, each by its letters.
SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Arabic", re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")),
    ("Hebrew", re.compile(r"[\u0590-\u05ff]")),
    ("Greek", re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")),
    ("Cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("Thai", re.compile(r"[\u0e00-\u0e7f]")),
    ("Devanagari", re.compile(r"[\u0900-\u097f]")),
    ("Hangul", re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")),
    ("Japanese", re.compile(r"[\u3040-\u30ff]")),
    ("Han", re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")),
)
# Scripts a language writes besides its own (Japanese and Korean write Han characters too).
ALSO_WRITES = {"Japanese": {"Han"}, "Hangul": {"Han"}}


def foreign_script(text: str, language: str) -> str | None:
    """The first script in ``text``'s own prose that ``language`` does not write (Latin aside), or None."""
    own = lang.script(language)
    allowed = {"Latin", own, *ALSO_WRITES.get(own, set())}
    prose = MARKERS.sub(" ", without_quotations(text))
    for name, letters in SCRIPTS:
        if name not in allowed and letters.search(prose):
            return name
    return None
