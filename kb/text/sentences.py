"""Sentences, clauses and quotations with their offsets, shared by chunking and answering."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kb.text import lexicon
from kb.text.words import WORD

# A sentence ends at . ! ? ؟ … followed by space, unless the next word starts in
# lower case (abbreviations such as "ect., evenimente" or "vs. client").
# Closing quotes and brackets after the stop belong to the sentence they close.
_END = re.compile(r"(?<=[.!?؟…])([\"'”»)]*)\s+|\s*\n\s*")
# Titles and abbreviations written before a name or a number.
ABBREVIATIONS = tuple(sorted(lexicon.every("abbreviations")))
_CLAUSE = re.compile(r"(?<=[,;:،؛])\s+")
# Text in quotation marks: “…”, „…“, «…», »…«, 「…」, 『…』, "…", and ‘…’ or '…'
# when the marks are not apostrophes (an opening mark after a letter, or a
# closing one before a letter, is one: "don't", "l'omnicanal", "stores' stock").
_QUOTATION = re.compile(
    r"“(?P<curly>[^“”]*)”"
    r"|„(?P<low>[^„“”]*)[“”]"
    r"|«(?P<guillemets>[^«»]*)»"
    r"|»(?P<reversed>[^«»]*)«"
    r"|「(?P<corner>[^「」]*)」"
    r"|『(?P<white_corner>[^『』]*)』"
    r'|"(?P<straight>[^"\n]*)"'
    r"|(?<!\w)‘(?P<single_curly>\S(?:[^‘’\n]|’(?=\w))*?)(?<!\s)’(?!\w)"
    r"|(?<![\w'])'(?P<single>\S(?:[^'\n]|'(?=\w))*?)(?<!\s)'(?![\w'])"
)


# A full stop after these ends no sentence, whatever follows: an initial
# ("J. Smith", "U.S. Army") or a title ("Dr. Smith").
_NOT_AN_END = re.compile(r"(?:(?<![^\W\d_])[^\W\d_]|(?<![^\W\d_])(?i:" + "|".join(ABBREVIATIONS) + r"))\.$")
# Nor does one after a German ordinal ("am 1. Januar", "im 16. Jahrhundert"):
# a number of one or two digits before a month or a noun that takes one. After
# any other word a number may end a sentence ("… grew by 3. Then …").
_ORDINAL = re.compile(r"(?<!\S)\d{1,2}\.$")
ORDINAL_NOUNS = lexicon.every("ordinal_nouns")
# Nor one after a list item's number, opening the sentence ("1. Canal vs.
# client") or after a colon ("Pasos: 1. Integrar… 2. Planificar…"): the
# number belongs to the item that follows it.
_ITEM_NUMBER = re.compile(r"\s*\d{1,2}\.")
_LISTED_NUMBER = re.compile(r"[:：]\s+\d{1,2}\.$")
# Nor one between two numbers: a date written with spaces ("marți, 04. 07. 2017").
_NUMBER_STOP = re.compile(r"\d\.$")


# A sentence's closing stop; a sentence that asks (a heading's or a passage's own
# question); a list item's bullet ("- ", "• "), a mark of layout, not a word.
SENTENCE_STOP = re.compile(r"[.!?…:;؟。！？][\"'”’»)]*$")
ASKS = re.compile(r"[?؟？][\"'”’»)]*$")
BULLET = re.compile(r"^[-*+•·‣◦▪–—]\s+")
# A line shorter than this is a label, not a statement: without a stop, a
# heading ("Romero"); ending in a colon, the lead-in of a list ("No:").
LABEL_CHARS = 40

# A line that opens with its number: a numbered heading or a step of a numbered list.
_NUMBERED = re.compile(r"^\d{1,2}[.)]\s+")


# Each language's openers that point back at the sentence before ("This means…").
_LEANING = {
    language: tuple(opener.casefold() for opener in listed)
    for language, listed in lexicon.by_language("leaning_openers").items()
}


def leans_back(sentence: str, language: str) -> bool:
    """Whether ``sentence``, in ``language``, opens by pointing back at the one
    before it ("Aquí es donde entra en juego…", "Principalmente se você…"):
    alone, it says little."""
    opening = BULLET.sub("", sentence.lstrip(), count=1).casefold()
    return any(
        opening.startswith(opener) and not opening[len(opener) : len(opener) + 1].isalnum()
        for opener in _LEANING.get(language, ())
    )


def is_bare_heading(sentence: str) -> bool:
    """Whether ``sentence`` is a heading's line: short, and without a stop."""
    return len(sentence) < LABEL_CHARS and not SENTENCE_STOP.search(sentence)


def is_numbered(line: str) -> bool:
    """Whether a line opens with its number: a numbered heading ("1. Canal vs. client",
    "2) Costs") or a step of a numbered list ("1. Take a frame…")."""
    return _NUMBERED.match(line.strip()) is not None


def unnumbered(heading: str) -> str:
    """A heading without its number, on one line: "1. Canal vs. client" → "Canal vs. client"."""
    return _NUMBERED.sub("", " ".join(heading.split()))


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences in ``text[start:end]``, as offsets into ``text``."""
    stop = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    begin = start
    for match in _END.finditer(text, start, stop):
        nxt = text[match.end() : match.end() + 1]
        if "\n" not in match.group(0) and nxt and nxt.islower():
            continue
        if "\n" not in match.group(0) and not match.group(1) and _not_an_end(text, begin, match.start(), match.end()):
            continue
        closing = len(match.group(1) or "")
        if match.start() + closing > begin:
            spans.append((begin, match.start() + closing))
        begin = match.end()
    if begin < stop and text[begin:stop].strip():
        spans.append((begin, stop))
    return [trimmed(text, s, e) for s, e in spans if text[s:e].strip()]


def sentences_of(text: str, spans: list[tuple[int, int]] | None = None) -> list[str]:
    """The sentences of ``text`` (at ``spans``, its ``sentence_spans`` if not
    given), each on one line: what an answer quotes, and what the index keeps a
    vector of (the one spelling both use)."""
    return [" ".join(text[start:end].split()) for start, end in (sentence_spans(text) if spans is None else spans)]


def _not_an_end(text: str, begin: int, stop: int, following: int) -> bool:
    """Whether the full stop that ends ``text[begin:stop]`` marks an initial, a
    title, an ordinal, a list item's number, or a number before another (a date)."""
    if (
        _NOT_AN_END.search(text, begin, stop)
        or _ITEM_NUMBER.fullmatch(text, begin, stop)
        or _LISTED_NUMBER.search(text, begin, stop)
        or (_NUMBER_STOP.search(text, begin, stop) and text[following : following + 1].isdigit())
    ):
        return True
    if not _ORDINAL.search(text, begin, stop):
        return False
    word = WORD.match(text, following)
    return word is not None and word.group().casefold() in ORDINAL_NOUNS


def quotation_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, quoted text)`` of each quotation in ``text``, marks included in ``start:end``."""
    spans = []
    for match in _QUOTATION.finditer(text):
        group = match.lastgroup or ""
        spans.append((match.start(), match.end(), match.group(group) or ""))
    return spans


def without_quotations(text: str, replacement: str = " ") -> str:
    """``text`` with every quotation (marks and all) replaced by ``replacement``."""
    return _QUOTATION.sub(replacement, text)


def clause_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    begin = start
    for match in _CLAUSE.finditer(text, start, end):
        spans.append((begin, match.start()))
        begin = match.end()
    spans.append((begin, end))
    return [trimmed(text, s, e) for s, e in spans if text[s:e].strip()]


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """``start`` and ``end`` moved inwards past white space."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# A line that ends a sentence, or a heading's or list item's line, ends here.
_LINE_ENDS = re.compile(r"[.!?:;…。！？؟\"'”»)\]]\s*$")
_ITEM_START = re.compile(r"^\s*(?:[-*+•]|\d{1,9}[.)])\s+")


def unwrapped(text: str) -> str:
    """A plain text's paragraphs wrapped at a fixed width, each on one line again.

    A line that does not end a sentence, followed by one that starts in lower
    case, is the same sentence: "apply one drop of lube to each" / "roller
    while turning". Headings, list items and one-paragraph-a-line text are left
    as they are; so are scripts without case.
    """
    lines = text.split("\n")
    out = lines[:1]
    for line in lines[1:]:
        before = out[-1]
        start = line.lstrip()[:1]
        if before.strip() and start.islower() and not _LINE_ENDS.search(before) and not _ITEM_START.match(line):
            out[-1] = before.rstrip() + " " + line.lstrip()
        else:
            out.append(line)
    return "\n".join(out)


@dataclass(frozen=True)
class Sentences:
    """A text as its sentences, and what each one is: what an answer quotes from."""

    text: str
    spans: tuple[tuple[int, int], ...]
    sentences: tuple[str, ...]
    # Each sentence as quoted: a list item without its bullet.
    shown: tuple[str, ...]
    # Each sentence's index terms (``terms_of``, the lexical index's tokenizer).
    terms: tuple[frozenset[str], ...]
    # Whether each sentence, and each as shown, is a heading's line (``is_bare_heading``).
    bare: tuple[bool, ...]
    bare_shown: tuple[bool, ...]
    # Whether each, as shown, points back at the sentence before (``leans_back``).
    leans: tuple[bool, ...]
    # Whether each opens with its number (``is_numbered``).
    numbered: tuple[bool, ...]


@dataclass(frozen=True)
class Quotable:
    """A passage read for quoting: its sentences; a list item's body (after the
    headings it opens with) and its label (its heading, unnumbered); and
    whether it states an amount."""

    whole: Sentences
    item: Sentences | None
    label: str
    states_amount: bool


def read_sentences(text: str, language: str, terms_of: Callable[[str], Iterable[str]]) -> Sentences:
    """``text``'s sentences and what each one is, in ``language``."""
    spans = sentence_spans(text)
    sentences = sentences_of(text, spans)
    shown = [BULLET.sub("", sentence, count=1) for sentence in sentences]
    return Sentences(
        text,
        tuple(spans),
        tuple(sentences),
        tuple(shown),
        tuple(frozenset(terms_of(sentence)) for sentence in sentences),
        tuple(is_bare_heading(sentence) for sentence in sentences),
        tuple(is_bare_heading(sentence) for sentence in shown),
        tuple(leans_back(sentence, language) for sentence in shown),
        tuple(is_numbered(sentence) for sentence in sentences),
    )
