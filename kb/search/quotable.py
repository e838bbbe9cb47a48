"""The retrieved passages read for quoting: their sentences and what each one is,
read once per passage, before an answer is composed from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from kb.ingest.chunk import body_start
from kb.models import Chunk, Hit
from kb.search.amounts import asks_for_quantity, states_quantity
from kb.search.lexical import tokenize
from kb.text.sentences import Quotable, read_sentences, unnumbered

# Passages read and kept: a conversation's follow-ups quote the same passages again.
KEPT = 1024


@dataclass(frozen=True)
class Quoting:
    """What an answer's quotes are chosen by: the hits, each read for quoting; the
    query's index terms; whether it asks for an amount ("how much")."""

    hits: tuple[Hit, ...]
    terms: frozenset[str]
    asks_amount: bool


def for_quoting(query: str, hits: Iterable[Hit]) -> Quoting:
    """``query`` and its ``hits``, read once, before an answer is composed from them."""
    asks_amount = asks_for_quantity(query)
    terms = frozenset(tokenize(query))
    return Quoting(readied(hits), terms, asks_amount)


def readied(hits: Iterable[Hit]) -> tuple[Hit, ...]:
    """``hits``, each with its passage read for quoting."""
    return tuple(replace(hit, quotable=quotable(hit.chunk)) for hit in hits)


@lru_cache(maxsize=KEPT)
def quotable(chunk: Chunk) -> Quotable:
    """``chunk`` read for quoting; a list item's body is read on its own, under its label."""
    text = chunk.text
    amount = states_quantity(text)
    body = body_start(text)
    label = unnumbered(chunk.heading)
    whole = read_sentences(text, chunk.language, tokenize)
    item = read_sentences(text[body:], chunk.language, tokenize) if body and label and text[body:].strip() else None
    return Quotable(whole, item, label, amount)
