"""Does the corpus cover a question? A threshold calibrated on the corpus itself.

Every passage of a focused corpus is on-topic, and a small multilingual model
scores any question 0.7-0.9 against it, so a fixed cut on raw cosine does not
carry over between corpora or models. Instead, each index is probed with
questions on unrelated everyday topics (``kb.answer.probes``): the best score such a
question reaches is what "not covered" looks like for this corpus and this
model. It differs by language: a question in a language the articles are
written in scores higher whatever it asks, and one in a script the model
knows less well (Chinese, Thai) lower, on the subject or not. So the probes
ask the same things in every recognised language, and a question is measured
against the probes in its own language. A question is covered when its best
passage scores clearly above that, or when it also shares rare terms with the
passages.

Where the model has a sparse head, its latent terms decide instead: a question
is covered when the cosine of its latent terms with some passage's reaches
``SPARSE_COVERED`` (or the best any off-topic probe reaches, if higher: a big
corpus matches anything a little). Measured on four corpora (the seeds, and
small English, Spanish and German blogs on coffee, balcony gardens and
marathon training, with questions in eight languages), that one cosine told
answerable from unanswerable questions better than the dense score did
(area under the curve 0.96 against 0.92; on near-topic questions the sources
do not answer, 0.84 against 0.70), and its best cut was 0.205-0.21 on each
corpus, while the dense score's best cut moved with the corpus.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from kb.answer.probes import OFF_TOPIC_PROBES
from kb.index.embed import Embedder, best_cosine, row_lengths
from kb.ingest.chunk import headings as headings_of
from kb.text.language import words

if TYPE_CHECKING:
    from kb.index.store import Store, StoredPassages
    from kb.search.retrieve import CorpusIndex, Retrieval

log = logging.getLogger(__name__)

MARGIN = 0.03
# Off-topic probes kept however many the corpus turns out to be about.
MIN_PROBES = 3
# Headings asked as questions to learn how the corpus's own subject scores.
MAX_HEADINGS = 64
MAX_SCANNED = 4096  # passages read for headings
NEAREST = 20  # a heading's nearest passages, searched for one that does not contain it
# A question this short (in index terms) is covered when the sources have all its terms.
SHORT_QUERY_TERMS = 2
# The cosine of a question's latent terms with its best passage's that marks it covered.
SPARSE_COVERED = 0.21
# A follow-up's own words, without the subject it borrows, match this share of that
# (on the sets' follow-ups alone: 0.13-0.28; "Tell me a joke": 0.09).
FOLLOW_UP_SHARE = 0.5
# A question in another language than the sources' whose dense score is this far
# above the probes' is covered with this share of that cosine: latent terms match
# less across languages, and the vectors agree it is on the subject (measured on the
# same four corpora: as many right decisions in all, and fewer answerable questions
# refused). In the sources' own language the latent terms have their full say.
DENSE_LEAD = 0.05
SPARSE_SHARE_WITH_DENSE = 0.8


@dataclass(frozen=True)
class Calibration:
    off_topic_best: float
    threshold: float
    # Each language's best off-topic score; ``off_topic_best`` is the best of
    # all, the bar for a language without probes.
    by_language: tuple[tuple[str, float], ...] = ()
    # The latent-term cosine that covers a question (None: the model has no sparse head).
    sparse_bar: float | None = None
    # The probes kept as off-topic for this corpus, by language: a follow-up that
    # borrows the conversation's subject is measured against them borrowing it too.
    probes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_json(self) -> str:
        """The calibration as stored with its index generation (floats exactly, as JSON writes them)."""
        return json.dumps(
            {
                "off_topic_best": self.off_topic_best,
                "threshold": self.threshold,
                "by_language": [list(pair) for pair in self.by_language],
                "sparse_bar": self.sparse_bar,
                "probes": [[language, list(texts)] for language, texts in self.probes],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        data = json.loads(text)
        return cls(
            float(data["off_topic_best"]),
            float(data["threshold"]),
            tuple((str(language), float(best)) for language, best in data["by_language"]),
            None if data["sparse_bar"] is None else float(data["sparse_bar"]),
            tuple((str(language), tuple(str(t) for t in texts)) for language, texts in data.get("probes", ())),
        )

    def for_language(self, language: str | None) -> Calibration:
        """The bar for a question in ``language``: set by the probes in that
        language, where there are any."""
        best = dict(self.by_language).get(language or "")
        if best is None:
            return self
        return replace(self, off_topic_best=best, threshold=best + MARGIN)

    def partly_covered(self, sparse_cosine: float | None) -> bool:
        """Whether a follow-up's own words match the sources' latent terms as
        well as ``FOLLOW_UP_SHARE`` of a covered question's (True without a sparse head)."""
        if self.sparse_bar is None or sparse_cosine is None:
            return True
        return sparse_cosine >= FOLLOW_UP_SHARE * self.sparse_bar

    def covered(
        self,
        best_dense: float,
        rare_terms: int,
        query_terms: int | None = None,
        sparse_cosine: float | None = None,
        borrowed: bool = False,
        across_languages: bool = True,
    ) -> bool:
        """``rare_terms``: the query's index terms the sources have;
        ``query_terms``: all its index terms (None: not counted);
        ``sparse_cosine``: its latent terms' best cosine with a passage's;
        ``borrowed``: the query borrows a follow-up's subject from the
        conversation, which lifts its dense score whatever the follow-up asks;
        ``across_languages``: no source is written in the question's language."""
        if query_terms is not None and query_terms <= SHORT_QUERY_TERMS and rare_terms == query_terms:
            # A question of a word or two, every one of them the sources'
            # ("Worten?", "Phone House?"): they speak of just that, however
            # little its short vector says. Nothing but function words ("Why?",
            # "How?"): there is nothing to look for.
            return query_terms > 0
        if self.sparse_bar is not None and sparse_cosine is not None:
            if across_languages and not borrowed and best_dense >= self.off_topic_best + DENSE_LEAD:
                return sparse_cosine >= SPARSE_SHARE_WITH_DENSE * self.sparse_bar
            return sparse_cosine >= self.sparse_bar
        if best_dense >= self.threshold:
            return True
        # Shared rare terms (names, numbers, domain words) lower the bar a little.
        return rare_terms >= 2 and best_dense >= self.off_topic_best + MARGIN / 2

    def probes_in(self, language: str | None) -> tuple[str, ...]:
        """The off-topic probes kept for this corpus in ``language`` (none: not one is)."""
        return dict(self.probes).get(language or "", ())

    def covers(
        self,
        found: Retrieval,
        borrowed: bool,
        across_languages: bool,
        names_unknown: bool,
        borrowed_bar: float | None = None,
    ) -> bool:
        """Whether the sources speak to a question retrieved as ``found`` (this
        bar is its language's): it found passages, and scores over the bar.
        ``borrowed``: its query borrows a follow-up's subject from the
        conversation; ``names_unknown``: it names something the sources never
        mention; ``borrowed_bar``: the best an off-topic probe scores with the
        same subject borrowed (``borrowed_ceiling``), which the query must reach."""
        if borrowed_bar is not None and _measure(found, self.sparse_bar) < borrowed_bar:
            # "And how do I bake bread? omnichannel" scores as well as any question
            # on omnichannel: the borrowed words lift it. The probes lifted by the
            # same words say how far they lift a question on something else.
            return False
        if not found.hits or not self.covered(
            found.best_dense,
            found.lexical_terms,
            found.query_terms,
            found.sparse_cosine,
            borrowed=borrowed,
            across_languages=across_languages,
        ):
            return False
        return found.own is None or self._on_topic_alone(found.own, names_unknown, across_languages)

    def _on_topic_alone(self, alone: Retrieval, names_unknown: bool, across_languages: bool) -> bool:
        """Whether a follow-up is still about the sources without the
        conversation's topic words (``alone``: its own words, scored). It
        borrows them for its subject ("and its challenges?"), but a change of
        subject must not borrow its coverage: "What is the capital of
        Australia?" after a question on omnichannel is off-topic. Alone, a
        follow-up need only score above the off-topic probes, and match some
        of the sources' latent terms (its subject is elsewhere: the borrowed
        "omnicanal" alone lifts "Tell me a joke omnicanal" over the bar); one
        that names something the sources never mention must be covered alone
        ("And Zalando?")."""
        if names_unknown:
            return self.covered(
                alone.best_dense,
                alone.lexical_terms,
                alone.query_terms,
                alone.sparse_cosine,
                across_languages=across_languages,
            )
        return alone.best_dense >= self.off_topic_best and self.partly_covered(alone.sparse_cosine)


def _measure(found: Retrieval, sparse_bar: float | None) -> float:
    """The score ``covered`` decides by: the latent terms' cosine where the model has them, else the dense score."""
    if sparse_bar is not None and found.sparse_cosine is not None:
        return found.sparse_cosine
    return found.best_dense


def borrowed_ceiling(embedder: Embedder, index: CorpusIndex, probes: Sequence[str], subject: str) -> float | None:
    """The best score (as ``_measure`` takes it) that an off-topic probe reaches
    against the passages once it borrows ``subject``, as a follow-up borrows the
    conversation's ("How high is Mount Everest? omnichannel"). None without probes."""
    if not probes or not len(index.vectors):
        return None
    texts = [f"{probe} {subject}".strip() for probe in probes]
    latent = embedder.sparse(texts) if index.sparse is not None else None
    if latent is not None:
        return max(best_cosine(index.sparse, index.sparse_norms, vector) for vector in latent)
    return float(np.max(embedder.encode(texts, is_query=True) @ index.vectors.T))


def calibrate(embedder: Embedder, vectors: np.ndarray, sparse: Any = None, passages: Sequence[str] = ()) -> Calibration:
    """``sparse``: the passages' latent terms as a CSR matrix, if the model has
    them; ``passages``: their texts, whose headings tell which probes the
    corpus itself is about (``off_topic``)."""
    if len(vectors) == 0:
        return Calibration(1.0, 1.0)
    probes = [(language, probe) for language, listed in OFF_TOPIC_PROBES.items() for probe in listed]
    texts = [probe for _, probe in probes]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The latent terms come from the model's second handle: on a second core, meanwhile.
        latent = pool.submit(embedder.sparse, texts) if sparse is not None else None
        best = (embedder.encode(texts, is_query=True) @ vectors.T).max(axis=1)
        kept = off_topic(best, _heading_scores(embedder, vectors, passages))
        encoded = latent.result() if latent is not None else None
    if len(kept) < len(probes):
        log.info(
            "probes the corpus is about, left out: %s", sorted({texts[i] for i in set(range(len(texts))) - set(kept)})
        )
    by_language: dict[str, float] = {}
    kept_probes: dict[str, list[str]] = {}
    for i in kept:
        language = probes[i][0]
        by_language[language] = max(by_language.get(language, -1.0), float(best[i]))
        kept_probes.setdefault(language, []).append(probes[i][1])
    ceiling = float(np.max(best[kept]))
    sparse_bar = max(SPARSE_COVERED, _cosine_ceiling(sparse, [encoded[i] for i in kept])) if encoded else None
    return Calibration(
        ceiling,
        ceiling + MARGIN,
        tuple(sorted(by_language.items())),
        sparse_bar,
        tuple((language, tuple(texts)) for language, texts in sorted(kept_probes.items())),
    )


def calibrate_generation(
    store: Store, embedder: Embedder, generation: int, passages: StoredPassages | None = None
) -> Calibration:
    """Calibrate ``generation`` from the store, on its passages in the order its
    in-memory index reads them (``passages``, if already read), and keep the
    result with it (``stored``)."""
    from kb.search.retrieve import sparse_matrix

    stored = passages or store.passages(generation)
    calibration = calibrate(embedder, stored.vectors, sparse_matrix(stored.sparse), [c.text for c in stored.chunks])
    store.save_calibration(generation, embedder.name, key(), calibration.to_json())
    return calibration


def stored(store: Store, embedder: Embedder, generation: int) -> Calibration | None:
    """The calibration kept with ``generation`` for ``embedder``'s model, if any."""
    value = store.calibration(generation, embedder.name, key())
    return None if value is None else Calibration.from_json(value)


def key() -> str:
    """What a stored calibration was computed from besides the index: the probes
    and this module's constants. A stored one under another key is computed again."""
    made_of = {
        "probes": OFF_TOPIC_PROBES,
        "constants": [MARGIN, MIN_PROBES, MAX_HEADINGS, MAX_SCANNED, NEAREST, SPARSE_COVERED],
        "version": 2,
    }
    return hashlib.sha256(json.dumps(made_of, sort_keys=True, default=list).encode()).hexdigest()[:16]


def off_topic(probe_best: np.ndarray, heading_best: np.ndarray) -> list[int]:
    """The probes that are off-topic for this corpus.

    A blog about cooking answers "How do I bake sourdough bread?": with that
    probe in, every question about its own subject would fall below the bar.
    The corpus's own headings, asked as questions, show how its subject
    scores; a probe that scores nearer to that than to the probes' median is
    about the subject and is left out (at least ``MIN_PROBES`` stay).
    """
    order = [int(i) for i in np.argsort(probe_best)]
    if not len(heading_best):
        return order
    middle = (float(np.median(probe_best)) + float(np.median(heading_best))) / 2
    kept = [i for i in order if probe_best[i] < middle]
    return kept if len(kept) >= MIN_PROBES else order[:MIN_PROBES]


def _heading_scores(embedder: Embedder, vectors: np.ndarray, passages: Sequence[str]) -> np.ndarray:
    """How well the corpus answers its own headings asked as questions: each
    heading's best score against a passage that does not contain it."""
    step = max(1, len(passages) // MAX_SCANNED)  # a large corpus is sampled evenly
    found = {h: None for text in passages[::step] for h in headings_of(text) if len(words(h)) >= 2}
    headings = list(found)
    if len(headings) > MAX_HEADINGS:
        headings = [headings[round(i * len(headings) / MAX_HEADINGS)] for i in range(MAX_HEADINGS)]
    if not headings:
        return np.zeros(0)
    scores = embedder.encode(headings, is_query=True) @ vectors.T
    best = []
    for row, heading in zip(scores, headings, strict=True):
        for i in np.argsort(-row)[:NEAREST]:
            if heading not in " ".join(passages[i].split()):
                best.append(float(row[i]))
                break
    return np.array(best)


def _cosine_ceiling(matrix: Any, encoded: Sequence[Any]) -> float:
    """The best cosine of an off-topic probe's latent terms with a passage's."""
    lengths = row_lengths(matrix)
    return max((best_cosine(matrix, lengths, vector) for vector in encoded), default=0.0)
