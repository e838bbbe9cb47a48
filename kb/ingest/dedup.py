"""The same article under two paths is indexed once.

A blog's site folder often holds a post twice: its Markdown source and the
page built from it (Hugo's ``public/``, Jekyll's ``_site/``), or a copy kept
under an old path. Indexed twice, every passage of it comes back twice and
takes two of the reader's few slots. Two documents in the same language whose
words are nearly the same are one article: the Jaccard similarity of their
sets of word 5-grams is at least ``SAME`` (a page that adds an author's note
or a date line to the post stays above it; two posts on the same subject are
far below). Of each such group the source file is kept before a built page
(text or Markdown before HTML), then the one already indexed (a stray copy
must not rename an article whose citations and links are out there), then
the shallower path, then the first in order.

Pairs are found without comparing every document with every other: only
documents that share a sampled 5-gram (one in ``SAMPLE``, chosen by hash) are
compared, and a 5-gram found in more than ``COMMON`` documents (a site's own
stock phrase) does not count as evidence.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath

from kb.ingest.load import FileProblem
from kb.models import Document
from kb.text.words import WORD, fold

SHINGLE = 5
SAME = 0.8
SAMPLE = 4
COMMON = 50
_BUILT_PAGES = frozenset({".html", ".htm"})


def shingles(text: str) -> frozenset[int]:
    """The document's word 5-grams, each as a CRC-32 (the same in every run, and fast)."""
    words = WORD.findall(fold(text))
    if len(words) < SHINGLE:
        words += [""] * (SHINGLE - len(words))
    return frozenset(zlib.crc32(" ".join(words[i : i + SHINGLE]).encode()) for i in range(len(words) - SHINGLE + 1))


def similarity(a: frozenset[int], b: frozenset[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def unique_documents(
    documents: Sequence[Document], indexed: frozenset[str] = frozenset()
) -> tuple[tuple[Document, ...], tuple[FileProblem, ...]]:
    """``documents`` without the repeats of an article, and a report for each
    repeat left out. ``indexed``: the sources the index holds now; a copy that
    turns up later does not displace them."""
    sets = [shingles(doc.text) for doc in documents]
    holders: dict[int, list[int]] = {}
    for i, grams in enumerate(sets):
        for gram in grams:
            if gram % SAMPLE == 0:
                holders.setdefault(gram, []).append(i)
    candidates: set[tuple[int, int]] = set()
    for held in holders.values():
        if 1 < len(held) <= COMMON:
            candidates.update((a, b) for n, a in enumerate(held) for b in held[n + 1 :])

    parent = list(range(len(documents)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in sorted(candidates):
        if documents[a].language == documents[b].language and similarity(sets[a], sets[b]) >= SAME:
            parent[root(b)] = root(a)

    groups: dict[int, list[int]] = {}
    for i in range(len(documents)):
        groups.setdefault(root(i), []).append(i)
    kept: set[int] = set()
    problems: list[FileProblem] = []
    addresses: dict[int, str] = {}
    for members in groups.values():
        best = min(members, key=lambda i: _preference(documents[i].source, i, indexed))
        kept.add(best)
        # A post with no address of its own takes its built page's (its canonical link).
        found = next((documents[i].url for i in sorted(members) if documents[i].url), None)
        if documents[best].url is None and found:
            addresses[best] = found
        for i in sorted(members):
            if i != best:
                problems.append(
                    FileProblem(
                        documents[i].source, f"the same article as {documents[best].source}, indexed once", broken=False
                    )
                )
    unique = tuple(
        replace(doc, url=addresses[i]) if i in addresses else doc for i, doc in enumerate(documents) if i in kept
    )
    return unique, tuple(problems)


def _preference(source: str, order: int, indexed: frozenset[str]) -> tuple[bool, bool, int, int]:
    path = PurePosixPath(source)
    return (path.suffix.casefold() in _BUILT_PAGES, source not in indexed, len(path.parts), order)
