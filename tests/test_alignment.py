"""A translation's passages paired with the original's, in order."""

from __future__ import annotations

import numpy as np

from kb.index.translations import alignment
from kb.service import KnowledgeBase


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_passage_that_resembles_many_does_not_take_their_places() -> None:
    """Passage 2 of the translation is a summary, close to everything; passages 1
    and 3 of the original still pair with their own translations, which are
    less similar to them than the summary is, because order decides."""
    rng = np.random.default_rng(7)
    topics = _unit(rng.normal(size=(5, 32)))
    original = _unit(topics + 0.05 * rng.normal(size=topics.shape))
    translation = _unit(topics + 0.9 * rng.normal(size=topics.shape))
    translation[2] = _unit(topics.sum(axis=0, keepdims=True) + 0.01 * rng.normal(size=(1, 32)))[0]
    similarity = original @ translation.T
    assert similarity[1].argmax() == 2 and similarity[3].argmax() == 2, "the summary would not mislead a best match"
    assert alignment(original, translation) == [0, 1, 2, 3, 4]


def test_two_passages_rendered_as_one_pair_with_it() -> None:
    topics = _unit(np.eye(4, 16) + 0.01)
    merged = _unit(np.vstack([topics[0], topics[1] + topics[2], topics[3]]))
    assert alignment(topics, merged) == [0, 1, 1, 2]
    assert alignment(merged, topics) in ([0, 1, 3], [0, 2, 3])


def test_nothing_to_align() -> None:
    assert alignment(np.zeros((0, 4)), np.ones((3, 4))) == []


def test_the_seeds_translation_pairs_passages_in_order(kb: KnowledgeBase) -> None:
    """000 (Portuguese) and 004 (its Arabic translation): every passage's twin
    is at or after the previous passage's, both ways, and each article's first
    passage pairs with the other's first. The windowed best match this
    replaced gave the Portuguese introduction the Arabic conclusion."""
    index = kb.retriever.index()
    assert index.translations, "the seeds' translation was not recognised"
    for source, other in index.translations.items():
        rows = index.by_source[source]
        twins = [index.twins[row] for row in rows]
        assert twins == sorted(twins), (source, twins)
        assert twins[0] == index.by_source[other][0]
        assert twins[-1] == index.by_source[other][-1]
        assert len(set(twins)) >= len(index.by_source[other]) - 1, "most passages of the other side have a partner"


def test_short_translations_align_passage_by_passage() -> None:
    """A declared translation may be one to four passages a side (too short to be
    found by its passages): each passage still pairs with its own rendering, in order."""
    rng = np.random.default_rng(11)
    for rows in range(1, 5):
        topics = _unit(rng.normal(size=(rows, 32)))
        translation = _unit(topics + 0.3 * rng.normal(size=topics.shape))
        assert alignment(topics, translation) == list(range(rows))
        assert alignment(translation, topics) == list(range(rows))
    one, three = _unit(rng.normal(size=(1, 32))), _unit(rng.normal(size=(3, 32)))
    summary = _unit(three.sum(axis=0, keepdims=True))
    assert alignment(summary, three) == [int((summary @ three.T).argmax())]
    assert alignment(three, one) == [0, 0, 0]
