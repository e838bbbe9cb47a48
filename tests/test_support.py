"""The support check of generated sentences (``kb.answer.support``) on the
hand-written set in ``bench/data/support_set.json``, against the real seed index."""

from __future__ import annotations

import pytest

from bench.support import DROP_UNSUPPORTED, KEEP_SUPPORTED, evaluate, load_set
from kb.answer import support
from kb.service import KnowledgeBase


@pytest.fixture(scope="module")
def calibrated(kb: KnowledgeBase) -> support.SupportCalibration:
    return kb.support_calibration(kb.retriever.index())


def test_the_set_is_what_the_bar_is_measured_on() -> None:
    cases = load_set()["cases"]
    assert len(cases) >= 40
    assert abs(sum(c["supported"] for c in cases) * 2 - len(cases)) <= 2
    assert len({c["language"] for c in cases}) >= 4
    assert any("by" in c for c in cases)


@pytest.mark.slow  # the seeds' support calibration: 25 s or more; not in make test-fast
def test_the_check_keeps_supported_sentences_and_drops_the_rest(
    kb: KnowledgeBase, calibrated: support.SupportCalibration
) -> None:
    index = kb.retriever.index()
    result = evaluate(kb.embedder, index, calibrated)
    report = "\n".join(result.table()) + f"\nmistakes: {result.mistakes}"
    assert result.keep_rate >= KEEP_SUPPORTED, report
    assert result.drop_rate >= DROP_UNSUPPORTED, report
    assert result.repointed >= 1, report  # a supported sentence citing the wrong passage is pointed to the right one


@pytest.mark.slow  # the seeds' support calibration: 25 s or more; not in make test-fast
def test_the_calibration_is_kept_with_the_generation(kb: KnowledgeBase, calibrated: support.SupportCalibration) -> None:
    index = kb.retriever.index()
    assert support.stored(kb.store, kb.embedder, index.generation) == calibrated
    assert calibrated.unsupported < calibrated.threshold < calibrated.supported
    assert support.SupportCalibration.from_json(calibrated.to_json()) == calibrated


def test_claims_split_at_markers_inside_a_sentence_and_keep_their_own_markers() -> None:
    text = "Omnichannel connects channels [1], while multichannel keeps them apart [2].\nA list item [3]"
    found = [(text[c.start : c.end], sorted(c.cited)) for c in support.claims(text, 3)]
    assert found == [
        ("Omnichannel connects channels [1]", [1]),
        (", while multichannel keeps them apart [2].", [2]),
        ("A list item [3]", [3]),
    ]


def test_numbers_and_names_a_passage_does_not_state_are_missing() -> None:
    passage = "Companies with an omnichannel strategy retain 91% more customers. Worten has started."
    assert support.facts_missing("They retain 91% more customers [1].", passage, "", "en") == []
    assert support.facts_missing("Amazon invented it in 1987 [1].", passage, "", "en") == ["1987"]
    assert support.facts_missing("It was invented by Amazon [1].", passage, "", "en") == ["amazon"]
    # A name the question brings is not the model's invention.
    assert support.facts_missing("Zara uses it too [1].", passage, "Does Zara use it?", "en") == []


def test_a_claim_pointed_elsewhere_keeps_its_words_and_names_the_new_passage() -> None:
    assert support._pointed("Worten has begun [2].", [5]) == "Worten has begun [5]."
    assert support._pointed("Worten has begun.", [1]) == "Worten has begun [1]."


