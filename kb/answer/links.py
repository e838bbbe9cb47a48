"""Links from a citation to the quoted words on the live post.

A citation's link is its post's URL with a text fragment
(``#:~:text=start,end``, https://wicg.github.io/scroll-to-text-fragment/):
a browser that supports it scrolls the post to the quote and highlights it;
one that does not opens the post at its top. The quote is the sentences the
answer quotes from the passage, else the passage itself. Its first and last
few words are the fragment's ``start`` and ``end``, each within one line of
the passage (a paragraph, a list item, a table cell: a browser matches each
term within one block of the page). The widget builds the same link in
JavaScript (``kb/web/static/widget.js``, ``quoteLink``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote as percent_encoded

from kb.ingest.urls import public_url
from kb.models import Citation

# Words at each end of a quote; a quote of up to twice as many is given whole.
EDGE_WORDS = 4
QUOTE = re.compile(r"“(.+?)”\s*((?:\[\d+\]\s*)+)")
# What the cleaned text puts before a list item that the page shows as a list marker,
# not as text ("- ", "3. "); and between a table's cells (" | ").
_ITEM_MARK = re.compile(r"^(?:[-•]\s+|\d{1,9}[.)]\s+)")
_CELL = " | "


def quoted_segments(answer_text: str, ident: int | None = None) -> list[str]:
    """The sentences the answer quotes from citation ``ident`` (extractive answers); from any, for None."""
    segments: list[str] = []
    for match in QUOTE.finditer(answer_text):
        ids = {int(n) for n in re.findall(r"\d+", match.group(2))}
        if ident is None or ident in ids:
            for part in re.split(" … | — ", match.group(1)):
                part = part.strip().removesuffix("…").strip()
                if part:
                    segments.append(part)
    return segments


def find_spans(text: str, segments: Sequence[str]) -> list[tuple[int, int]]:
    """Where each segment occurs in ``text``, matching any run of whitespace; merged and sorted."""
    spans: list[tuple[int, int]] = []
    for segment in segments:
        words = segment.split()
        if not words:
            continue
        match = re.search(r"\s+".join(re.escape(w) for w in words), text)
        if match:
            spans.append(match.span())
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def quoted_part(passage: str, answer_text: str, ident: int) -> str:
    """What the answer quotes of citation ``ident``'s ``passage`` (from its first quoted
    sentence to its last), or the whole passage when it quotes none of it."""
    spans = find_spans(passage, quoted_segments(answer_text, ident))
    return passage[spans[0][0] : spans[-1][1]] if spans else passage


def encode_term(term: str) -> str:
    """A text directive's term, percent-encoded as the spec asks: every character but
    letters, digits and ``_.~`` (so ``-``, ``&`` and ``,``, its syntax, are too)."""
    return percent_encoded(term, safe="").replace("-", "%2D")


def _blocks(quote: str) -> list[list[str]]:
    """The quote's lines (and table cells) as lists of words, list markers left out."""
    blocks: list[list[str]] = []
    for line in quote.splitlines():
        for cell in line.split(_CELL):
            words = _ITEM_MARK.sub("", cell.strip()).split()
            if words:
                blocks.append(words)
    return blocks


def text_fragment(quote: str, edge: int = EDGE_WORDS) -> str:
    """``:~:text=start,end`` for ``quote`` (``:~:text=quote`` for a short one); "" without words."""
    blocks = _blocks(quote)
    if not blocks:
        return ""
    if len(blocks) == 1 and len(blocks[0]) <= 2 * edge:
        return ":~:text=" + encode_term(" ".join(blocks[0]))
    start = " ".join(blocks[0][:edge])
    end = " ".join(blocks[-1][-edge:])
    return f":~:text={encode_term(start)},{encode_term(end)}"


def quote_link(url: str | None, quote: str) -> str | None:
    """``url`` (without its own fragment) with a text fragment for ``quote``; None when
    ``url`` is no absolute http(s) address (``kb.ingest.urls.public_url``): nothing else becomes a link."""
    base = public_url(url)
    if base is None:
        return None
    fragment = text_fragment(quote)
    return f"{base}#{fragment}" if fragment else base


def citation_link(citation: Citation, answer_text: str) -> str | None:
    """The link from ``citation`` to the words the answer quotes, on its post; None without a URL."""
    return quote_link(citation.chunk.url, quoted_part(citation.chunk.text, answer_text, citation.id))


def contract_link(citation: Mapping[str, Any], answer_text: str) -> str | None:
    """``citation_link`` for a citation of the contract's answer object (``citations[]``)."""
    url, text, ident = citation.get("url"), citation.get("text"), citation.get("id")
    if not isinstance(url, str) or not isinstance(text, str) or not isinstance(ident, int):
        return None
    return quote_link(url, quoted_part(text, answer_text, ident))
