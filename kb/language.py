"""Language detection, restricted to the languages we support."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

SUPPORTED = ("en", "pt", "es", "ro", "ar", "fr", "de", "it")
RTL = frozenset({"ar", "he", "fa", "ur"})
DEFAULT_LANGUAGE = "en"

_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in SUPPORTED]
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


def warm_up() -> None:
    _detector()


def is_rtl(language: str) -> bool:
    return language in RTL


def detect(text: str, ignore: Iterable[str] = (), default: str = DEFAULT_LANGUAGE) -> str:
    """ISO 639-1 code of ``text``.

    ``ignore`` holds words that carry no evidence of a language, such as the
    loanwords a corpus shares across its languages ("omnichannel",
    "marketing"): they are masked before detection so that "Ce este
    marketingul omnichannel?" is Romanian, not English.
    """
    letters = _LETTERS.findall(text)
    if not letters:
        return default
    arabic = sum(1 for ch in letters if _ARABIC.match(ch))
    if arabic * 2 >= len(letters):
        return "ar"
    ignored = {w.casefold() for w in ignore}
    masked = " ".join(w for w in _WORD.findall(text) if w.casefold() not in ignored)
    sample = masked if len(masked) >= 3 else text
    with _lock:
        found = _detector().detect_language_of(sample[:5000])
    if found is None:
        return default
    return found.iso_code_639_1.name.lower()


def words(text: str) -> list[str]:
    return _WORD.findall(text)
