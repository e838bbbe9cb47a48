"""Hubness: how close a passage is to every question on the corpus's topic,
measured from the corpus alone and taken off its dense score."""

from __future__ import annotations

import numpy as np
import pytest

from kb.models import Chunk
from kb.search import hubs
from kb.search.hubs import hubness
from kb.service import KnowledgeBase


def _chunk(source: str, ordinal: int, text: str) -> Chunk:
    return Chunk(f"{source}#{ordinal}", source, source, "en", "", text, 0, len(text), ordinal)


def _unit(*weights: float) -> np.ndarray:
    vector = np.array(weights, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _corpus() -> tuple[list[Chunk], np.ndarray, list[str], dict[str, np.ndarray]]:
    # Three articles on three subjects (the axes 1-3); a.md's first passage also
    # states what the others are about (axis 0), its second only its own subject.
    chunks = [
        _chunk("a.md", 0, "Topic of all."),
        _chunk("a.md", 1, "Only a."),
        _chunk("b.md", 0, "Topic b one. Topic b two."),
        _chunk("c.md", 0, "Topic c one. Topic c two."),
    ]
    vectors = np.vstack([_unit(1, 1, 0, 0), _unit(0, 1, 0, 0), _unit(1, 0, 1, 0), _unit(1, 0, 0, 1)])
    return chunks, vectors, [c.source for c in chunks], {"en": np.zeros(4, dtype=np.float32)}


# Each passage's sentences' vectors, in its order.
SENTENCES = [
    np.vstack([_unit(1, 1, 0, 0)]),
    np.vstack([_unit(0, 1, 0, 0)]),
    np.vstack([_unit(1, 0, 1, 0), _unit(1, 0, 1, 0.2)]),
    np.vstack([_unit(1, 0, 0, 1), _unit(1, 0, 0.2, 1)]),
]


def test_a_passage_close_to_what_every_other_article_says_is_the_hub() -> None:
    chunks, vectors, families, means = _corpus()
    found = hubness(chunks, vectors, families, means, SENTENCES)
    assert found.argmax() == 0
    assert found[0] > found[1]
    assert abs(float(found.mean())) < 1e-6


def test_an_article_s_translation_is_no_reference_for_it() -> None:
    chunks, vectors, families, means = _corpus()
    alone = hubness(chunks, vectors, families, means, SENTENCES)
    # b.md and c.md as one article and its translation: b.md's passage is then
    # compared with a.md's sentences alone, and is less of a hub than a.md's first.
    paired = hubness(chunks, vectors, ["a.md", "a.md", "b.md", "b.md"], means, SENTENCES)
    assert paired[2] - paired[0] < alone[2] - alone[0]


def test_one_article_or_no_kept_sentences_has_no_hubs() -> None:
    chunks, vectors, _, means = _corpus()
    assert not hubness(chunks, vectors, ["a.md"] * 4, means, SENTENCES).any()
    assert not hubness(chunks, vectors, [c.source for c in chunks], means, [None] * 4).any()


def test_a_large_corpus_is_measured_in_blocks_against_evenly_spaced_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks, vectors, families, means = _corpus()
    whole = hubness(chunks, vectors, families, means, SENTENCES)
    monkeypatch.setattr(hubs, "BLOCK", 1)
    assert np.allclose(hubness(chunks, vectors, families, means, SENTENCES), whole)
    monkeypatch.setattr(hubs, "MAX_REFERENCES", 3)
    sampled = hubness(chunks, vectors, families, means, SENTENCES)
    assert not np.allclose(sampled, whole)
    assert np.isfinite(sampled).all() and abs(float(sampled.mean())) < 1e-6
    assert sampled[0] > sampled[1]


def test_the_seeds_strongest_hub_is_the_passage_that_states_their_common_topic(kb: KnowledgeBase) -> None:
    index = kb.retriever.index()
    assert index.hubness.shape == (len(index.chunks),)
    hub = index.chunks[int(index.hubness.argmax())]
    # 001 opens with its title question and its definition of multichannel.
    assert hub.source.startswith("001") and hub.ordinal == 0, hub.id
    assert hub.text.startswith("¿Cuál es la diferencia entre estrategia omnicanal y multicanal?")
