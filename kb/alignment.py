"""Which passage of a translation renders which passage of its original.

A translation keeps the original's order, so its passages are aligned as two
sequences (dynamic time warping over the cosine distances of their vectors):
the path runs from the first passages to the last, each step pairing the next
passage on one side, the other, or both. Matching each passage alone to its
most similar one nearby lets a passage that resembles many (an introduction, a
summary) take several others' places, which is the error this avoids.
"""

from __future__ import annotations

import numpy as np


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
