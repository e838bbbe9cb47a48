"""Does each sentence of a generated answer say what the passage it cites says?

A model's answer is split into claims: its sentences, and inside a sentence
each clause that carries markers of its own ("A [1], while B [2]."). A claim is
supported by a passage when

- the embedder finds it close to the passage's best span: a sentence, or two
  in a row, of the passage or of one of its translations (cosine of the two
  embedded as queries; e5 is trained on such symmetric pairs, across
  languages), at or above the index's threshold; and
- the numbers it states are the passage's, and so are the names (capitalised
  words inside the sentence) that the question does not bring itself.

The threshold is calibrated per index, as answerability is
(``kb.answer.coverage``): on sentences of the corpus's own passages against
the other sentences of that passage (supported) and against the nearest
passage of another article (not supported). It is stored with the index
generation (``calibrate_generation``), and computed on first use for an index
built before it existed.

``check`` keeps a claim that a passage it cites supports (its markers then
name only those passages), points one that another given passage supports to
that passage, and drops the rest. A sentence without a marker that states
nothing (``states_something``: a lead-in that ends with ":" and introduces
what follows, or a few words with no number or name) is no claim: it stays as
written, unmarked. Each kept passage's support is reported as a
level: 0 is what the sentences of another article score against it, 1 what
its own sentences score.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kb.answer.citations import MARKERS, cited_numbers, claim_spans, length_in_words
from kb.index.embed import Embedder
from kb.models import Chunk, Hit
from kb.search.names import CAPITALISED_NOUNS
from kb.text.sentences import sentences_of
from kb.text.words import WORD

if TYPE_CHECKING:
    from kb.index.store import Store, StoredPassages

log = logging.getLogger(__name__)

# Spans of a passage a claim is compared with: this many sentences in a row, at most.
WINDOW = 2
# Passages (with their sentences) the calibration samples, spread over the index.
CALIBRATION_PASSAGES = 48
# A sentence needs this many words to be sampled for the calibration.
MIN_SAMPLE_WORDS = 6
# Where the threshold sits between what another article's sentences score (0) and the passage's own (1).
# A claim is pointed to a given passage it does not cite only when it scores as a passage's own sentence (1).
THRESHOLD_AT = 0.5
# The threshold of an index too small to calibrate.
DEFAULT_THRESHOLD = 0.83
# A claim cites a passage that supports it, yet another given passage scores this much
# higher (and as a passage's own sentences do): it is pointed to that one.
MOVE_MARGIN = 0.03
# Passages whose spans' vectors are kept between answers.
CACHED_PASSAGES = 512
# Store record kind.
KIND = "support"

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MARKER_GROUP = re.compile(rf"(?:\s*{MARKERS.pattern})+")


@dataclass(frozen=True)
class SupportCalibration:
    """What supported and unsupported sentences score on one index (medians), and the bar between."""

    unsupported: float
    supported: float
    threshold: float

    def level(self, score: float) -> float:
        """``score`` as 0 (another article's sentence) .. 1 (the passage's own), clipped."""
        span = max(self.supported - self.unsupported, 1e-6)
        return float(min(1.0, max(0.0, (score - self.unsupported) / span)))

    def to_json(self) -> str:
        return json.dumps({"unsupported": self.unsupported, "supported": self.supported, "threshold": self.threshold})

    @classmethod
    def from_json(cls, text: str) -> SupportCalibration:
        data = json.loads(text)
        return cls(float(data["unsupported"]), float(data["supported"]), float(data["threshold"]))

    @classmethod
    def between(cls, unsupported: float, supported: float) -> SupportCalibration:
        if supported <= unsupported:
            return cls(DEFAULT_THRESHOLD - 0.05, DEFAULT_THRESHOLD + 0.05, DEFAULT_THRESHOLD)
        return cls(unsupported, supported, unsupported + THRESHOLD_AT * (supported - unsupported))


UNCALIBRATED = SupportCalibration(DEFAULT_THRESHOLD - 0.05, DEFAULT_THRESHOLD + 0.05, DEFAULT_THRESHOLD)


@dataclass(frozen=True)
class Claim:
    """One sentence or clause of an answer: ``text[start:end]``, and the passages (1-based) its markers name."""

    start: int
    end: int
    cited: frozenset[int]


@dataclass(frozen=True)
class Verdict:
    """A claim's fate: the passages that support it (1-based; empty: dropped) and its best score."""

    claim: Claim
    text: str
    supported_by: tuple[int, ...]
    score: float


@dataclass(frozen=True)
class Checked:
    """The answer with only supported claims, markers pointing where the support is;
    what was dropped; and each passage's (1-based) weakest support among the claims kept."""

    text: str
    dropped: tuple[str, ...]
    moved: tuple[str, ...]
    support: dict[int, float] = field(default_factory=dict)


# -- claims ---------------------------------------------------------------------------
def claims(text: str, passages: int) -> list[Claim]:
    """The claims of ``text``: its sentences (``claim_spans``: a line's end ends
    one, but not inside a quotation), split after a group of markers that more
    words follow within the sentence."""
    found: list[Claim] = []
    for start, end in claim_spans(text):
        begin = start
        for group in _MARKER_GROUP.finditer(text, start, end):
            rest = text[group.end() : end]
            if len(WORD.findall(MARKERS.sub(" ", rest))) >= 2:
                found.append(_claim(text, begin, group.end(), passages))
                begin = group.end()
        found.append(_claim(text, begin, end, passages))
    return [c for c in found if WORD.search(MARKERS.sub(" ", text[c.start : c.end]))]


def _claim(text: str, start: int, end: int, passages: int) -> Claim:
    return Claim(start, end, frozenset(cited_numbers(text, start, end, passages)))


def states_something(text: str, claim: Claim, question: str = "", language: str = "") -> bool:
    """Whether ``claim`` (in ``text``) is something to check against the passages.

    One with markers is. One without is when it states a number or a name the
    question does not bring, or else when it is a sentence of its own, long
    enough for its score to mean what the calibration measured: not a lead-in
    that ends with ":" and introduces what follows (a list's items, which are
    claims of their own), and at least ``MIN_SAMPLE_WORDS`` words (a few words
    on the topic, "An omnichannel strategy:", score against any passage on it
    as its own sentences do)."""
    if claim.cited:
        return True
    words = prose(text[claim.start : claim.end])
    if facts_missing(words, "", question, language):
        return True
    introduces = words.endswith((":", "：")) and bool(text[claim.end :].strip())
    return not introduces and length_in_words(words) >= MIN_SAMPLE_WORDS


def prose(text: str) -> str:
    return " ".join(MARKERS.sub(" ", text).split())


# -- facts: numbers and names -------------------------------------------------------
def _digits(text: str) -> set[str]:
    return {re.sub(r"[.,]", "", n) for n in _NUMBER.findall(text)}


def _names(text: str, language: str) -> set[str]:
    """Capitalised words inside the sentence (not its first word): names, in most languages."""
    if language in CAPITALISED_NOUNS:
        return set()
    found = set()
    for match in list(WORD.finditer(text))[1:]:
        word = match.group()
        before = text[: match.start()].rstrip()
        if len(word) >= 3 and word[:1].isupper() and before and before[-1] not in '.!?:;"“«(\n':
            found.add(word.casefold())
    return found


def facts_missing(claim: str, passage: str, question: str, language: str) -> list[str]:
    """The numbers and names ``claim`` states that neither ``passage`` nor the question has."""
    claim = MARKERS.sub(" ", claim)
    given = passage.casefold() + "\n" + question.casefold()
    missing = sorted(_digits(claim) - _digits(passage) - _digits(question))
    missing += sorted(n for n in _names(claim, language) if n not in given)
    return missing


# -- spans of passages ----------------------------------------------------------------
def windows(text: str) -> list[str]:
    """A passage's spans: each sentence, and each run of up to ``WINDOW``
    sentences, spelt as the index keeps its sentences (``sentences_of``)."""
    sentences = sentences_of(text)
    spans = list(sentences)
    for size in range(2, WINDOW + 1):
        spans += [" ".join(sentences[i : i + size]) for i in range(len(sentences) - size + 1)]
    return spans or [text]


class SpanVectors:
    """The embedded spans of passages, kept for the passages met most recently."""

    def __init__(self, embedder: Embedder, size: int = CACHED_PASSAGES) -> None:
        self.embedder = embedder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, texts: Sequence[str], known: Mapping[str, np.ndarray] | None = None) -> list[np.ndarray]:
        """Each text's spans' vectors (rows), in order. ``known``: vectors
        already computed (the index keeps each sentence's), not embedded again."""
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        with self._lock:
            missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            spans = [windows(texts[i]) for i in missing]
            vector = _embedded(self.embedder, [s for group in spans for s in group], known or {})
            with self._lock:
                for i, group in zip(missing, spans, strict=True):
                    self._cache[keys[i]] = np.vstack([vector[s] for s in group])
        with self._lock:
            found = []
            for k in keys:
                self._cache.move_to_end(k)
                found.append(self._cache[k])
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return found


# -- the check ------------------------------------------------------------------------
class SupportChecker:
    """Checks an answer's claims against the passages they cite (see the module's doc)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.spans = SpanVectors(embedder)

    def scores(
        self,
        sentences: Sequence[str],
        chunks: Sequence[Sequence[Chunk]],
        known: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """``[i, j]``: how close sentence i is to the best span of passage j (any
        of its versions); ``known``: the index's sentence vectors."""
        if not sentences or not chunks:
            return np.zeros((len(sentences), len(chunks)))
        claims_v = self.embedder.encode(list(sentences), is_query=True)
        texts = [c.text for versions in chunks for c in versions]
        vectors = self.spans.of(texts, known)
        result = np.zeros((len(sentences), len(chunks)))
        at = 0
        for j, versions in enumerate(chunks):
            rows = np.vstack(vectors[at : at + len(versions)])
            at += len(versions)
            result[:, j] = (claims_v @ rows.T).max(axis=1)
        return result

    def check(
        self,
        text: str,
        hits: Sequence[Hit],
        calibration: SupportCalibration,
        question: str = "",
        language: str = "",
        known: Mapping[str, np.ndarray] | None = None,
    ) -> Checked:
        """``known``: the index's sentence vectors, used instead of embedding
        the passages' sentences again."""
        found = [c for c in claims(text, len(hits)) if states_something(text, c, question, language)]
        if not found:
            return Checked(text, (), ())
        sentences = [prose(text[c.start : c.end]) for c in found]
        versions = [(h.chunk, *h.alternatives) for h in hits]
        scores = self.scores(sentences, versions, known)
        passages = ["\n".join(f"{c.title}\n{c.text}" for c in v) for v in versions]
        verdicts: list[Verdict] = []
        for i, claim in enumerate(found):
            ok = [
                j + 1
                for j in range(len(hits))
                if scores[i, j] >= calibration.threshold
                and not facts_missing(sentences[i], passages[j], question, language)
            ]
            cited_ok = tuple(n for n in ok if n in claim.cited)
            strong = [n for n in ok if scores[i, n - 1] >= calibration.supported]
            best = max(strong, key=lambda n: scores[i, n - 1]) if strong else None
            cited_best = max((scores[i, n - 1] for n in cited_ok), default=-1.0)
            if best is not None and best not in claim.cited and scores[i, best - 1] - cited_best >= MOVE_MARGIN:
                # Another passage given says it, as clearly as its own sentences and clearly
                # better than the passages cited: the claim points there.
                by: tuple[int, ...] = (best,)
            else:
                by = cited_ok
            top = max((scores[i, n - 1] for n in by), default=float(scores[i].max()))
            verdicts.append(Verdict(claim, text[claim.start : claim.end], by, float(top)))
        return _rebuild(text, verdicts, scores, calibration)


def _rebuild(text: str, verdicts: list[Verdict], scores: np.ndarray, calibration: SupportCalibration) -> Checked:
    dropped: list[str] = []
    moved: list[str] = []
    support: dict[int, float] = {}
    out = text
    for v, i in sorted(((v, i) for i, v in enumerate(verdicts)), key=lambda item: -item[0].claim.start):
        start, end = v.claim.start, v.claim.end
        if not v.supported_by:
            dropped.append(v.text)
            before = len(out[:start].rstrip(" \t"))
            if before == 0 or out[before - 1] == "\n":
                end = len(out) - len(out[end:].lstrip(" \t"))
                before = start if before == 0 or out[before - 1] == "\n" else before
            out = out[:before] + out[end:]
            continue
        for n in v.supported_by:
            level = calibration.level(float(scores[i, n - 1]))
            support[n] = min(support.get(n, 1.0), level)
        if set(v.supported_by) != set(v.claim.cited):
            moved.append(v.text)
            out = out[:start] + _pointed(v.text, v.supported_by) + out[end:]
    kept = "\n".join(line for line in out.split("\n") if line.strip() or not line)
    return Checked(kept.strip(), tuple(reversed(dropped)), tuple(reversed(moved)), support)


def _pointed(claim: str, passages: Sequence[int]) -> str:
    """``claim`` with its markers naming exactly ``passages``, where its last marker was (else at its end)."""
    markers = "".join(f"[{n}]" for n in passages)
    groups = list(_MARKER_GROUP.finditer(claim))
    if groups:
        last = groups[-1]
        head = MARKERS.sub("", claim[: last.start()])
        return " ".join(head.split(" ")).rstrip() + " " + markers + claim[last.end() :]
    stop = len(claim.rstrip().rstrip(".!?؟…。"))
    return claim[:stop].rstrip() + " " + markers + claim[stop:]


# -- calibration ------------------------------------------------------------------------
def calibrate(
    embedder: Embedder,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    translations: Mapping[str, str] | None = None,
    known: Mapping[str, np.ndarray] | None = None,
) -> SupportCalibration:
    """Medians of supported and unsupported scores on the corpus's own sentences.

    Supported: a sentence of a passage against the passage's other spans (those
    without it). Unsupported: the same sentence against the best span of the
    passage of another article that is nearest to its own passage; not of its
    translation (``translations``: source -> the source it translates, both ways).
    ``known``: the index's sentence vectors, used instead of embedding them again.
    """
    translations = translations or {}
    if len(chunks) < 2:
        return UNCALIBRATED
    step = max(1, len(chunks) // CALIBRATION_PASSAGES)
    sampled = list(range(0, len(chunks), step))[:CALIBRATION_PASSAGES]
    similar = vectors[sampled] @ vectors.T
    sentences: list[str] = []
    own: list[list[str]] = []
    other: list[str] = []
    for row, i in enumerate(sampled):
        chunk = chunks[i]
        spans = sentences_of(chunk.text)
        candidates = [s for s in spans if len(WORD.findall(s)) >= MIN_SAMPLE_WORDS]
        same = {chunk.source, translations.get(chunk.source)}
        elsewhere = [j for j in np.argsort(-similar[row]) if chunks[j].source not in same]
        if not candidates or len(spans) < 2 or not elsewhere:
            continue
        sentence = max(candidates, key=len)
        rest = [w for w in windows(chunk.text) if sentence not in w]
        if not rest:
            continue
        sentences.append(sentence)
        own.append(rest)
        other.append(chunks[int(elsewhere[0])].text)
    if len(sentences) < 3:
        return UNCALIBRATED
    vector = _embedded(embedder, [*sentences, *(w for group in own for w in group)], known or {})
    other_v = SpanVectors(embedder, size=len(other)).of(other, known)
    supported, unsupported = [], []
    for k, sentence in enumerate(sentences):
        supported.append(max(float(vector[w] @ vector[sentence]) for w in own[k]))
        unsupported.append(float((other_v[k] @ vector[sentence]).max()))
    result = SupportCalibration.between(float(np.median(unsupported)), float(np.median(supported)))
    log.info(
        "support threshold %.3f (another article's sentences %.3f, a passage's own %.3f, %d samples)",
        result.threshold,
        result.unsupported,
        result.supported,
        len(sentences),
    )
    return result


def _embedded(embedder: Embedder, texts: Sequence[str], known: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each of ``texts`` embedded as a query; those ``known`` taken from there."""
    new = [t for t in dict.fromkeys(texts) if t not in known]
    found = {t: np.asarray(known[t], dtype=np.float32) for t in texts if t in known}
    found.update(zip(new, embedder.encode(new, is_query=True) if new else [], strict=True))
    return found


def key() -> str:
    made_of = {"constants": [WINDOW, CALIBRATION_PASSAGES, MIN_SAMPLE_WORDS, THRESHOLD_AT], "version": 3}
    # MOVE_MARGIN is not in the key: it is used when checking, not when calibrating.
    return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()[:16]


def calibrate_generation(
    store: Store, embedder: Embedder, generation: int, passages: StoredPassages | None = None
) -> SupportCalibration:
    """Calibrate ``generation`` from the store (``passages``, if already read)
    and keep the result with it."""
    stored = passages or store.passages(generation)
    chunks, vectors = stored.chunks, stored.vectors
    translations: dict[str, str] = {}
    for doc in store.documents(generation):
        if doc.translation_of:
            translations[doc.source] = doc.translation_of
            translations[doc.translation_of] = doc.source
    calibration = calibrate(embedder, chunks, vectors, translations, stored.sentence_vectors())
    store.save_calibration(generation, embedder.name, key(), calibration.to_json(), kind=KIND)
    return calibration


def stored(store: Store, embedder: Embedder, generation: int) -> SupportCalibration | None:
    value = store.calibration(generation, embedder.name, key(), kind=KIND)
    return None if value is None else SupportCalibration.from_json(value)
