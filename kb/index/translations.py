"""Translations: which articles translate each other, and which passage renders which.

Detection: a pair the blog declares (``kb.ingest.declared``: Hugo's file
names and ``translationKey``, hreflang links) is a translation whatever its
length; the others are found by their passages (see the constants below).
Alignment: which passage of a translation renders which passage of its
original, for a pair of any length (one passage a side included).

A translation keeps the original's order, so its passages are aligned as two
sequences (dynamic time warping over the cosine distances of their vectors):
the path runs from the first passages to the last, each step pairing the next
passage on one side, the other, or both. Matching each passage alone to its
most similar one nearby lets a passage that resembles many (an introduction, a
summary) take several others' places, which is the error this avoids.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np

from kb.index.store import Store

log = logging.getLogger(__name__)

# A document is a translation of another when its passages line up with the
# other's in order: most passages' best match sits where the translation of
# that passage should be. Articles on the same topic score high on cosine
# similarity too (a small model ranks every on-topic passage ~0.9), but their
# best matches are scattered.
# Short articles line up by chance: with five passages a side, a passage's best
# match lies near its expected place two times in three whatever it says. So the
# alignment must also be one chance would give less often than this, in both
# directions (a one-sided binomial test).
TRANSLATION_ALIGNMENT = 0.7
MIN_ALIGNED_PASSAGES = 5
ALIGNMENT_BY_CHANCE = 1e-3
ALIGNMENT_WINDOW = 1.5  # passages either side of where order predicts


def alignment(a: np.ndarray, b: np.ndarray) -> list[int]:
    """For each passage (row) of ``a``, the index of the passage of ``b`` that
    translates it: the most similar one among those the path pairs it with."""
    if not len(a) or not len(b):
        return []
    similarity = a @ b.T
    distance = 1.0 - similarity
    rows, cols = distance.shape
    cost = np.full((rows + 1, cols + 1), np.inf)
    cost[0, 0] = 0.0
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            cost[i, j] = distance[i - 1, j - 1] + min(cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1])
    best: dict[int, int] = {}
    i, j = rows, cols
    while i > 0 and j > 0:
        row, col = i - 1, j - 1
        if row not in best or similarity[row, col] > similarity[row, best[row]]:
            best[row] = col
        step = int(np.argmin([cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]]))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return [best[row] for row in range(rows)]


def mark_translations(
    store: Store, generation: int, language: dict[str, str], declared: Mapping[str, str] | None = None
) -> None:
    """Record which documents translate another (the later one points to the
    earlier); ``language``: each document's language, by source. ``declared``:
    the pairs the blog declares (``kb.ingest.declared``), recorded whatever their
    length; the other documents are paired by their passages. Every document's
    link is set anew, so a pair declared or found before and no longer is undone."""
    chunks, vectors = store.all_chunks(generation)
    by_source: dict[str, np.ndarray] = {}
    for source in {c.source for c in chunks}:
        rows = [i for i, c in enumerate(chunks) if c.source == source]
        by_source[source] = vectors[rows]
    links = {later: earlier for later, earlier in (declared or {}).items() if {later, earlier} <= by_source.keys()}
    for later, earlier in sorted(links.items()):
        log.info("declared translation: %s of %s", later, earlier)
    paired = set(links) | set(links.values())
    ordered = sorted(source for source in by_source if source not in paired)
    for i, later in enumerate(ordered):
        for earlier in ordered[:i]:
            if language.get(later) == language.get(earlier):
                continue
            if is_translation(by_source[later], by_source[earlier], f"{later} ~ {earlier}"):
                links[later] = earlier
                break
    for doc in store.documents(generation):
        if doc.translation_of != links.get(doc.source):
            store.set_translation(generation, doc.source, links.get(doc.source))


def is_translation(a: np.ndarray, b: np.ndarray, pair: str = "") -> bool:
    """Whether articles with passage vectors ``a`` and ``b`` translate each other."""
    score, chance = translation_evidence(a, b)
    log.info("translation score %s: %.3f (by chance: %.2g)", pair, score, chance)
    return score >= TRANSLATION_ALIGNMENT and chance <= ALIGNMENT_BY_CHANCE


def translation_evidence(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The share of passages whose best match on the other side is where order
    predicts, and the probability of lining up that well by chance (the larger
    of the two directions')."""
    if min(len(a), len(b)) < MIN_ALIGNED_PASSAGES or max(len(a), len(b)) > 1.5 * min(len(a), len(b)):
        return 0.0, 1.0
    sims = a @ b.T
    (share_ab, chance_ab), (share_ba, chance_ba) = _diagonal(sims), _diagonal(sims.T)
    return (share_ab + share_ba) / 2, max(chance_ab, chance_ba)


def _diagonal(sims: np.ndarray) -> tuple[float, float]:
    """The share of rows whose best column is near the diagonal, and the chance
    of at least that many if each row's best column were random."""
    rows, cols = sims.shape
    expected = np.arange(rows) * (cols - 1) / max(1, rows - 1)
    near = np.abs(np.arange(cols)[None, :] - expected[:, None]) <= ALIGNMENT_WINDOW
    hits = int(np.sum(near[np.arange(rows), sims.argmax(axis=1)]))
    return hits / rows, _binomial_tail(hits, rows, float(near.mean()))


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))
