"""omnikb's own words in every language it speaks, read from ``kb/i18n/locales/<language>.json``.

Each file is one language's words, under named keys, in these sections:

- ``name``: the language's name in itself ("Español"), for the chat page's labels;
- ``messages``: the answer's own words (the lead-in, "not covered", the sources' label);
  ``{names}`` is a list of names, made by :func:`listing`;
- ``listing``: how such a list is written: ``separator``, ``open_quote``, ``close_quote``;
- ``chat``: the chat page's labels; ``{n}``, ``{limit}`` and ``{s}`` are numbers;
- ``widget``: the chat widget's labels, which ``widget.js`` asks for at
  ``GET /api/widget/strings/{language}`` (it carries English itself): ``rate``'s ``{s}``
  is a number of seconds; after ``long`` the widget adds the count ("(2345/2000)");
- ``script_of``: for a set of labels in a script of a language rather than a language
  of its own (``zh-Hant``), that language; nothing detects it, :func:`ui_language` picks it.

A word missing from a language's file is said in English. Each file is read once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

DEFAULT = "en"
LOCALES = resources.files("kb.i18n") / "locales"


@cache
def languages() -> frozenset[str]:
    """The languages with a file: ISO 639-1 codes, and ``zh-Hant``."""
    return frozenset(item.name.removesuffix(".json") for item in LOCALES.iterdir() if item.name.endswith(".json"))


@cache
def _locale(language: str) -> Mapping[str, Any]:
    if language not in languages():  # never a path made of what a request says
        return MappingProxyType({})
    data = json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))
    return MappingProxyType(
        {key: MappingProxyType(value) if isinstance(value, dict) else value for key, value in data.items()}
    )


def section(language: str | None, name: str) -> Mapping[str, str]:
    """``language``'s words in section ``name`` ("messages", "chat", "widget"); empty if it has none."""
    found = _locale(language or DEFAULT).get(name)
    return found if isinstance(found, Mapping) else MappingProxyType({})


def _every(field: str) -> Mapping[str, Any]:
    """``field`` of every language that has it: {"en": …, "pt": …}."""
    return MappingProxyType(
        {language: _locale(language)[field] for language in sorted(languages()) if field in _locale(language)}
    )


def _say(name: str, key: str, language: str | None) -> str:
    return section(language, name).get(key) or section(DEFAULT, name)[key]


MESSAGES: Mapping[str, Mapping[str, str]] = _every("messages")
UI: Mapping[str, Mapping[str, str]] = _every("chat")
WIDGET: Mapping[str, Mapping[str, str]] = _every("widget")
LANGUAGE_NAMES: Mapping[str, str] = _every("name")
SCRIPT_VARIANTS: Mapping[str, str] = _every("script_of")


def message(key: str, language: str) -> str:
    """The answer's own words: ``message("not_covered", "pt")``."""
    return _say("messages", key, language)


def listing(items: Iterable[str], language: str) -> str:
    """``items``, quoted, as a list in running text: "“Shopify”, “WooCommerce”".

    Names are quoted as the question wrote them: an inflected form reads as the
    question's word, not as this sentence's grammar ("nu menționează „Franței”").
    """
    opening, closing = _say("listing", "open_quote", language), _say("listing", "close_quote", language)
    return _say("listing", "separator", language).join(f"{opening}{item}{closing}" for item in items)


def ui(key: str, language: str | None) -> str:
    """The chat page's label ``key`` in ``language`` (English when it is unknown or None)."""
    return _say("chat", key, language)


def ui_language(language: str | None, traditional: bool) -> str | None:
    """The language of the page's labels: ``language``, in Traditional characters for a reader of them."""
    return "zh-Hant" if language == "zh" and traditional else language


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def widget_strings(language: str) -> Mapping[str, str] | None:
    """The widget's labels in ``language`` (an ISO 639-1 code, any case), if omnikb has them."""
    return WIDGET.get(language.strip().casefold())
