"""Passages' spans embedded as queries, kept for the passages met most recently.

A span is a sentence of a passage, or a run of sentences: what an answer
quotes or claims. Spans are embedded on the query side, where e5 matches two
texts symmetrically (a question and a sentence, a claim and a sentence), in
any language. The support check (``kb.answer.support``) compares generated
sentences with them; the extractive answerer picks the sentences it quotes by
them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from kb.index.embed import Embedder

# Passages whose spans' vectors are kept between answers.
CACHED_PASSAGES = 512


class SpanVectors:
    """The embedded spans (``spans(text)``) of passages, kept for the passages met most recently."""

    def __init__(
        self, embedder: Embedder, spans: Callable[[str], list[str]], size: int = CACHED_PASSAGES
    ) -> None:
        self.embedder = embedder
        self.spans = spans
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's spans' vectors (rows), in order."""
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        with self._lock:
            missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            spans = [self.spans(texts[i]) for i in missing]
            flat = [s for group in spans for s in group]
            vectors = self.embedder.encode(flat, is_query=True)
            at = 0
            with self._lock:
                for i, group in zip(missing, spans, strict=True):
                    self._cache[keys[i]] = vectors[at : at + len(group)]
                    at += len(group)
        with self._lock:
            found = []
            for k in keys:
                self._cache.move_to_end(k)
                found.append(self._cache[k])
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return found
