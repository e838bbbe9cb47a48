"""How close a passage is to every question, whatever the question asks: its hubness.

A passage that states the corpus's shared topic (001's "¿Cuál es la diferencia
entre estrategia omnicanal y multicanal? Multicanal: …") is near every question
about that topic, a bias that does not depend on the question. Its closeness
to what the other articles say measures that bias from the corpus alone: the
mean of its ``NEIGHBOURS`` highest similarities to their sentences, embedded
as queries (as a reader's question is) and centred on the passage's language
(as the dense channel is). Retrieval takes a share of it off each passage's
dense score, as cross-domain similarity local scaling (CSLS) does for a
word's nearest neighbours.

An article's own sentences (and its translation's) are left out: every
passage is close to its own article. A corpus of one article has no hubs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kb.models import Chunk

# The closest sentences of other articles that a passage's hubness averages.
NEIGHBOURS = 5
# At most this many sentences are references (evenly spaced), so a large corpus costs a bounded matrix.
MAX_REFERENCES = 4096
# Passages scored against the references at a time, so the similarity matrix stays small.
BLOCK = 2048


def hubness(
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    families: Sequence[str],
    language_means: Mapping[str, np.ndarray],
    sentences: Sequence[np.ndarray | None],
) -> np.ndarray:
    """Each passage's hubness (zero mean over the passages), given each
    passage's article (one name for an article and its translation) and its
    sentences' vectors; zeros when no passage has sentences of another article
    to compare with (a corpus of one article, or an index that keeps no
    sentence vectors)."""
    code = {name: i for i, name in enumerate(sorted(set(families)))}
    kept = [(matrix, code[article]) for matrix, article in zip(sentences, families, strict=True) if matrix is not None]
    found = np.zeros(len(chunks))
    if len(code) < 2 or not kept:
        return found
    references = np.vstack([matrix for matrix, _ in kept]).astype(np.float32)
    owner = np.concatenate([np.full(len(matrix), article) for matrix, article in kept])
    if len(references) > MAX_REFERENCES:
        keep = np.linspace(0, len(references) - 1, MAX_REFERENCES).round().astype(int)
        references, owner = references[keep], owner[keep]
    means = np.vstack([language_means[c.language] for c in chunks]).astype(np.float32)
    centred = vectors.astype(np.float32) - means
    article = np.array([code[name] for name in families])
    k = min(NEIGHBOURS, len(references))
    scored = np.zeros(len(chunks), dtype=bool)
    for start in range(0, len(chunks), BLOCK):
        stop = min(start + BLOCK, len(chunks))
        similarity = centred[start:stop] @ references.T
        # A passage's own article (and its translation) is no reference for it.
        similarity[article[start:stop, None] == owner[None, :]] = -np.inf
        top = -np.partition(-similarity, k - 1, axis=1)[:, :k]
        finite = np.isfinite(top)
        counted = finite.sum(axis=1)
        totals = np.where(finite, top, 0.0).sum(axis=1)
        scored[start:stop] = counted > 0
        found[start:stop] = np.divide(totals, counted, out=np.zeros(stop - start), where=counted > 0)
    if scored.any():
        found[scored] -= found[scored].mean()
    return found
