"""Citations are a step of their own: markers are checked against the passages
and renumbered; no citation is ever taken on the generator's word.

A model's marker may name one passage (``[2]``), several (``[1, 3]``,
``[3;1]``) or a range (``[1-3]``, ``[1–3]``); each number it names is
renumbered on its own and written as a marker of its own: ``[1, 3]`` becomes
``[1][2]`` when passages 1 and 3 are the first two cited. A marker naming only
numbers that are no passage is dropped, and so is a sentence whose markers all
are (``drop_unsupported``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from kb.models import Citation, Hit
from kb.text.sentences import quotation_spans, trimmed
from kb.text.words import WORD

# One passage: the form omnikb writes, and what answers carry.
MARKER = re.compile(r"\[(\d{1,3})\]")
# What a model may write: one or more numbers, separated by "," or ";", or a range "1-3".
MARKERS = re.compile(r"\[(\d{1,3}(?:\s*[,;\-–—]\s*\d{1,3})*)\]")
# The start of a marker that more text may complete: held back while streaming.
PARTIAL_MARKERS = re.compile(r"\[(?:\d[\d\s,;\-–—]{0,24})?$")
# A range longer than this is read as its two ends, not everything between.
MAX_RANGE = 20

# A claim (sentence) ends at a stop, with the closing quotes or brackets and the
# markers after it, before white space; or at a line's end. Abbreviations
# ("Dr. Smith", "J. Smith", "e.g. Amazon") and a list's "1." do not end one.
_STOP = re.compile(
    rf"(?<=[.!?؟…])[\"'”’»)]*(?:[^\S\n]*{MARKERS.pattern})*(?=\s|$)"
    rf"|(?<=[。！？])[」』”)]*(?:[^\S\n]*{MARKERS.pattern})*"
    r"|\n"
)
_ABBREVIATION = re.compile(r"(?:^|[\s(.])(?:[A-Z][a-z]{0,2}|\w)\.$|^\s*(?:[-*•]\s*)?\d{1,3}\.$")

# Quotations of at least this many words (or CJK/Thai characters) are checked against the passages.
MIN_QUOTED_WORDS = 4
MIN_QUOTED_UNSPACED = 8
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_ELLIPSIS = re.compile(r"[\[(]\s*(?:…|\.\.\.)\s*[\])]|…|\.\.\.")


def numbers(marker: str) -> list[int]:
    """The passage numbers a marker's inside names, in the order written: "3, 1-2" -> [3, 1, 2]."""
    named: list[int] = []
    for part in re.split(r"\s*[,;]\s*", marker.strip()):
        ends = [int(n) for n in re.split(r"\s*[\-–—]\s*", part) if n]
        if len(ends) == 2 and 0 <= ends[1] - ends[0] <= MAX_RANGE:
            named.extend(range(ends[0], ends[1] + 1))
        else:
            named.extend(ends)
    return named


def renumber(text: str, hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """Keep markers that name a passage (1-based into ``hits``), drop the rest,
    and number the cited passages 1..n in order of first mention."""
    order: dict[int, int] = {}
    cleaned = tidy(MARKERS.sub(lambda match: markers_for(match, order, len(hits)), text)).strip()
    return cleaned, cite(hits, [old - 1 for old, _ in sorted(order.items(), key=lambda item: item[1])])


def markers_for(match: re.Match[str], order: dict[int, int], passages: int) -> str:
    """A model's marker as omnikb's markers, one per passage named, numbered by
    first mention (``order``, updated) and written in ascending order: ``[3, 1]``
    -> ``[1][2]``; numbers naming no passage are dropped."""
    named: set[int] = set()
    for index in numbers(match.group(1)):
        if not 1 <= index <= passages:
            continue
        if index not in order:
            order[index] = len(order) + 1
        named.add(order[index])
    return "".join(f"[{n}]" for n in sorted(named))


def tidy(text: str) -> str:
    """Collapse what removing markers left behind: "[1][1]" (or "[1] [1]"), " ." and runs of spaces."""
    text = re.sub(r"(\[\d+\])(?:[ \t]*\1)+", r"\1", text)
    text = re.sub(r"[ \t]+([.,;:!?؟])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text)


def cite(hits: Sequence[Hit], indexes: Sequence[int]) -> tuple[Citation, ...]:
    """Citations 1..n for the passages at ``indexes`` (0-based into ``hits``), in that order."""
    return tuple(
        Citation(id=n, chunk=hits[i].chunk, score=hits[i].score, alternatives=hits[i].alternatives)
        for n, i in enumerate(indexes, start=1)
    )


# -- claims -------------------------------------------------------------------------
def claim_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text``, each with the markers written after its stop.

    A line's end ends a sentence too (a heading, a list's item), but neither a
    stop nor a line break inside a quotation does: a quotation is part of the
    sentence that quotes it, whatever it holds (the heading line of the passage
    it quotes, say)."""
    masked = list(text)
    for start, end, _ in quotation_spans(text):
        masked[start + 1 : end - 1] = "x" * (end - start - 2)
    plain = "".join(masked)
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in _STOP.finditer(plain):
        if match.group(0) != "\n":
            following = plain[match.end() :].lstrip(" \t")[:1]
            if following.islower() or _ABBREVIATION.search(plain[begin : match.start()]):
                continue
        end = match.start() if match.group(0) == "\n" else match.end()
        spans.append((begin, end))
        begin = match.end()
    spans.append((begin, len(text)))
    return [(s, e) for s, e in (trimmed(text, s, e) for s, e in spans) if e > s]


def cited_numbers(text: str, start: int, end: int, passages: int) -> set[int]:
    """The passage numbers the markers in ``text[start:end]`` name that exist (1..``passages``)."""
    return {n for m in MARKERS.finditer(text, start, end) for n in numbers(m.group(1)) if 1 <= n <= passages}


def drop_unsupported(text: str, passages: int) -> tuple[str, list[str]]:
    """``text`` without the sentences whose markers all name passages that do not
    exist (``[7]`` of 5), and those sentences. Sentences without a marker stay."""
    kept = text
    dropped: list[str] = []
    for start, end in reversed(claim_spans(text)):
        if MARKERS.search(text, start, end) and not cited_numbers(text, start, end, passages):
            dropped.append(text[start:end])
            kept = cut(kept, start, end)
    return kept, dropped[::-1]


def cut(text: str, start: int, end: int) -> str:
    """``text`` without ``text[start:end]`` and the spaces before it (after it, at a
    line's start); a line it leaves empty goes too."""
    before = len(text[:start].rstrip(" \t"))
    if before == 0 or text[before - 1] == "\n":
        end = len(text) - len(text[end:].lstrip(" \t"))
        if end == len(text) or text[end] == "\n":
            # Nothing else on its line: the line goes, with one line break.
            if end < len(text):
                end += 1
            elif before > 0:
                before -= 1
    return text[:before] + text[end:]


# -- quotations ---------------------------------------------------------------------
def unfound_quotations(text: str, hits: Sequence[Hit]) -> list[str]:
    """The quotations in ``text`` that are in none of the passages they cite.

    A quotation cites the passages its sentence's markers name (all of ``hits``
    when they name none). It is found when, after normalising (NFKC, case,
    punctuation and spacing), each of its pieces between ellipses ("…", "[…]")
    is in one of those passages (title or text). Quotations shorter than
    ``MIN_QUOTED_WORDS`` words are not judged.
    """
    claims = claim_spans(text)
    unfound: list[str] = []
    folded: dict[int, str] = {}
    for start, end, quoted in quotation_spans(text):
        if not is_quotation(quoted):
            continue
        cited: set[int] = set()
        for s, e in claims:
            if s < end and e > start:
                cited |= cited_numbers(text, s, e, len(hits))
        indexes = sorted(n - 1 for n in cited) or range(len(hits))
        pieces = [p for p in (_fold(piece) for piece in _ELLIPSIS.split(MARKERS.sub(" ", quoted))) if p]
        for i in indexes:
            if i not in folded:
                folded[i] = _fold(f"{hits[i].chunk.title}\n{hits[i].chunk.text}")
        if not any(all(piece in folded[i] for piece in pieces) for i in indexes):
            unfound.append(quoted)
    return unfound


def is_quotation(quoted: str) -> bool:
    """Long enough to be presented as the source's own words, not a term in quotation marks."""
    return len(WORD.findall(quoted)) >= MIN_QUOTED_WORDS or len(_UNSPACED.findall(quoted)) >= MIN_QUOTED_UNSPACED


def length_in_words(text: str) -> float:
    """How many words ``text`` has, two characters of a script written without
    spaces (Chinese, Japanese, Thai) counting as one, as for quotations."""
    spaced = [w for w in WORD.findall(text) if not _UNSPACED.search(w)]
    return len(spaced) + len(_UNSPACED.findall(text)) * MIN_QUOTED_WORDS / MIN_QUOTED_UNSPACED


def _fold(text: str) -> str:
    """NFKC, casefolded, punctuation and invisible format characters out, spacing collapsed."""
    normal = unicodedata.normalize("NFKC", text).casefold()
    kept = []
    for ch in normal:
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        kept.append(" " if category.startswith("P") else ch)
    return " ".join("".join(kept).split())
