"""The support check of generated sentences (``kb.answer.support``) on the
hand-written set in ``bench/data/support_set.json``, against the real seed index."""

from __future__ import annotations

from typing import Any

import pytest

from bench.support import DROP_UNSUPPORTED, KEEP_SUPPORTED, evaluate, load_set
from kb.answer import support
from kb.models import Hit
from kb.service import KnowledgeBase
from kb.text.sentences import sentences_of


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


def _embedded_texts(monkeypatch: pytest.MonkeyPatch, kb: KnowledgeBase) -> list[str]:
    """Every text the knowledge base's embedder is asked to embed from now on."""
    embedder = kb.embedder
    original = embedder.encode
    texts: list[str] = []

    def counting(batch: Any, *args: Any, **kwargs: Any) -> Any:
        texts.extend(batch)
        return original(batch, *args, **kwargs)

    monkeypatch.setattr(embedder, "encode", counting)
    return texts


def test_the_check_embeds_no_sentence_the_index_keeps(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index keeps each sentence's vector for quotes; the check takes them
    from there and embeds only the answer's claims and runs of two sentences."""
    index = kb.retriever.index()
    hits = [Hit(chunk=chunk, score=1.0) for chunk in index.chunks[:3]]
    embedded = _embedded_texts(monkeypatch, kb)
    claim = "A multichannel strategy means a brand is present on many channels [1]."
    checked = support.SupportChecker(kb.embedder).check(claim, hits, support.UNCALIBRATED, known=index.sentence_vectors)
    assert checked.text
    kept = {s for hit in hits for s in sentences_of(hit.chunk.text)}
    assert kept <= set(index.sentence_vectors)
    assert embedded and not kept & set(embedded), "a kept sentence was embedded again"
    # Without the kept vectors, the same check embeds them.
    embedded.clear()
    support.SupportChecker(kb.embedder).check(claim, hits, support.UNCALIBRATED)
    assert kept <= set(embedded)


def test_the_calibration_embeds_no_sentence_the_index_keeps(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    index = kb.retriever.index()
    embedded = _embedded_texts(monkeypatch, kb)
    calibration = support.calibrate(
        kb.embedder, index.chunks, index.vectors, index.translations, index.sentence_vectors
    )
    assert calibration.unsupported < calibration.threshold < calibration.supported
    assert embedded and not set(index.sentence_vectors) & set(embedded)


def test_claims_split_at_markers_inside_a_sentence_and_keep_their_own_markers() -> None:
    text = "Omnichannel connects channels [1], while multichannel keeps them apart [2].\nA list item [3]"
    found = [(text[c.start : c.end], sorted(c.cited)) for c in support.claims(text, 3)]
    assert found == [
        ("Omnichannel connects channels [1]", [1]),
        (", while multichannel keeps them apart [2].", [2]),
        ("A list item [3]", [3]),
    ]


def test_a_quotation_across_a_line_break_is_one_claim() -> None:
    quoting = "The source says: “Omnicanal\n\nUna estrategia omnicanal prevé que los clientes cambian de canal.” [1]."
    text = quoting + "\nA line of its own [2]"
    found = [(text[c.start : c.end], sorted(c.cited)) for c in support.claims(text, 2)]
    assert found == [(quoting, [1]), ("A line of its own [2]", [2])]


@pytest.mark.parametrize(
    ("text", "question", "states"),
    [
        # A lead-in that introduces a list (its items are the claims), however long.
        ("An omnichannel strategy:\n\n- lets customers change channels [1];\n- keeps one history [1].", "", False),
        ("Here is how an omnichannel strategy works for a small shop:\n- it connects channels [1]", "", False),
        ("全渠道战略有以下几点：\n- 连接所有渠道 [1]", "", False),
        # A few words with no number or name.
        ("In short, it depends.\nOmnichannel connects every channel [1].", "", False),
        # A sentence of its own, long enough to be judged; a colon that introduces nothing.
        ("Omnichannel connects every channel of a company for the customer.\nMore [1].", "", True),
        ("This is how an omnichannel strategy works for a small shop:", "", True),
        ("全渠道战略把企业的所有渠道连接起来。\n更多 [1]", "", True),
        # A number or a name the question does not bring, in a few words.
        ("It began in 1987.\nMore [1].", "", True),
        ("It began in 1987.\nMore [1].", "What happened in 1987?", False),
        ("Ask Amazon first:\n- a step [1]", "", True),
        # Markers make any sentence a claim.
        ("Yes [1].", "", True),
    ],
)
def test_a_lead_in_or_a_few_words_without_a_marker_state_nothing(text: str, question: str, states: bool) -> None:
    first = support.claims(text, 3)[0]
    assert support.states_something(text, first, question, "en") is states


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
