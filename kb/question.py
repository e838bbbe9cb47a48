"""A question from any front door, checked: ``validate_question`` and its character rules.

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
from typing import Any

from kb.errors import InputError
from kb.models import Question, Turn
from kb.settings import MAX_TOP_K, Settings
from kb.text import language as lang

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


def visible_controls(text: str) -> str:
    """``text`` with each character a question may not contain shown by a symbol: a C0
    control by its Control Pictures sign ("␇" for BEL, "␡" for DEL), any other by "�"."""

    def symbol(match: re.Match[str]) -> str:
        code = ord(match.group(0))
        return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"

    return _SURROGATE.sub("\ufffd", _CONTROL.sub(symbol, text))


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


def validate_question(
    text: Any,
    history: Any = None,
    top_k: Any = None,
    language: Any = None,
    settings: Settings | None = None,
) -> Question:
    """Turn raw input from any front door into a ``Question``, or raise ``InputError``.

    Characters: see this module's opening (control characters refused in the
    question, removed from history; unpaired surrogates refused in both).
    """
    settings = settings or Settings()
    if not isinstance(text, str):
        raise InputError("`question` must be a string.")
    question = trimmed(text)
    if not question:
        raise InputError("The question is empty: type a question about the articles.")
    bad = forbidden_character(question)
    if bad is not None:
        position, char, kind = bad
        raise InputError(
            f"The question contains {kind} ({describe(char)}) at position {position + 1}; "
            "remove it and ask again."
        )
    if len(question) > settings.max_question_chars:
        raise InputError(
            f"The question is {len(question)} characters long; the limit is {settings.max_question_chars}. "
            "Shorten it and ask again."
        )
    turns: list[Turn] = []
    if history is not None:
        if not isinstance(history, list):
            raise InputError('`history` must be a list of {"role", "content"} objects.')
        if len(history) > settings.max_history_turns:
            raise InputError(f"`history` has {len(history)} turns; at most {settings.max_history_turns} are allowed.")
        for i, turn in enumerate(history):
            if not isinstance(turn, dict) or set(turn) - {"role", "content"}:
                raise InputError(f"history[{i}] must be an object with `role` and `content`.")
            role, content = turn.get("role"), turn.get("content")
            if role not in ("user", "assistant"):
                raise InputError(f'history[{i}].role must be "user" or "assistant".')
            if not isinstance(content, str):
                raise InputError(f"history[{i}].content must be a string.")
            odd = surrogate(content)
            if odd is not None:
                raise InputError(
                    f"history[{i}].content contains an unpaired surrogate ({describe(odd)}), "
                    "which is not text; send valid UTF-8."
                )
            content = without_controls(content)
            if len(content) > settings.max_history_turn_chars:
                raise InputError(
                    f"history[{i}].content is too long (at most {settings.max_history_turn_chars} characters)."
                )
            turns.append(Turn(role=role, content=content))
    k = settings.top_k if top_k is None else top_k
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_TOP_K:
        raise InputError(f"`top_k` must be a whole number from 1 to {MAX_TOP_K}.")
    return Question(text=question, history=tuple(turns), top_k=k, language=validate_language(language))


def validate_language(language: Any) -> str | None:
    """A language a caller names, as a lower-case ISO 639-1 code (None for none), or ``InputError``."""
    if language is None:
        return None
    code = language.strip().lower() if isinstance(language, str) else ""
    if code not in lang.ISO_639_1:
        if len(code) == 2 and code.isascii() and code.isalpha():
            # Two letters, as asked, but no language has them ("xx").
            raise InputError(f'`language` "{code}" is no ISO 639-1 language code; give one such as "en" or "ar".')
        raise InputError('`language` must be a two-letter ISO 639-1 code such as "en" or "ar".')
    return code
