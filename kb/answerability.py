"""Does the corpus cover a question? A threshold calibrated on the corpus itself.

Every passage of a focused corpus is on-topic, and a small multilingual model
scores any question 0.7-0.9 against it, so a fixed cut on raw cosine does not
carry over between corpora or models. Instead, each index is probed with
questions on unrelated everyday topics, in the supported languages: the best
score such a question reaches is what "not covered" looks like for this corpus
and this model. A question is covered when its best passage scores clearly
above that, or when it also shares rare terms with the passages, or when its
latent terms (the model's sparse head) match a passage far better than any
off-topic probe's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kb.embedding import Embedder, sparse_column

# Everyday questions that no knowledge base about one subject answers.
OFF_TOPIC_PROBES = (
    "How do I bake sourdough bread at home?",
    "What is the tallest mountain in Africa?",
    "Who composed the Four Seasons?",
    "How many legs does a spider have?",
    "Como se faz arroz de pato?",
    "Qual é a capital da Austrália?",
    "¿A qué temperatura hierve el agua en la montaña?",
    "¿Quién escribió Don Quijote?",
    "Care este cel mai lung râu din Europa?",
    "Cum se plantează roșiile în grădină?",
    "ما هي أطول سلسلة جبال في العالم؟",
    "كيف أطبخ الأرز بالحليب؟",
    "Quelle est la distance entre la Terre et la Lune ?",
    "Wie repariere ich einen platten Fahrradreifen?",
    "Chi ha dipinto la Gioconda?",
)

MARGIN = 0.03
# Latent terms cover a question that matches a passage this many times better
# than the best off-topic probe does (and scores above every probe densely).
SPARSE_FACTOR = 2.0


@dataclass(frozen=True)
class Calibration:
    off_topic_best: float
    threshold: float
    off_topic_sparse: float | None = None

    def covered(self, best_dense: float, rare_terms: int, best_sparse: float | None = None) -> bool:
        if best_dense >= self.threshold:
            return True
        # Shared rare terms (names, numbers, domain words) lower the bar a little.
        if rare_terms >= 2 and best_dense >= self.off_topic_best + MARGIN / 2:
            return True
        return (
            best_sparse is not None
            and bool(self.off_topic_sparse)
            and best_dense >= self.off_topic_best
            and best_sparse >= SPARSE_FACTOR * (self.off_topic_sparse or 0.0)
        )


def calibrate(embedder: Embedder, vectors: np.ndarray, sparse: Any = None) -> Calibration:
    """``sparse``: the passages' latent terms as a CSR matrix, if the model has them."""
    if len(vectors) == 0:
        return Calibration(1.0, 1.0)
    probes = embedder.encode(list(OFF_TOPIC_PROBES), is_query=True)
    best = (probes @ vectors.T).max(axis=1)
    ceiling = float(np.max(best))
    return Calibration(ceiling, ceiling + MARGIN, _sparse_ceiling(embedder, sparse))


def _sparse_ceiling(embedder: Embedder, matrix: Any) -> float | None:
    """The best latent-term match any off-topic probe reaches."""
    if matrix is None:
        return None
    encoded = embedder.sparse(list(OFF_TOPIC_PROBES))
    if not encoded:
        return None
    best = 0.0
    for vector in encoded:
        best = max(best, float(np.max(matrix @ sparse_column(vector, matrix.shape[1]), initial=0.0)))
    return best
