"""The quality bar, measured with the real model and a real Chroma on the dev
set and on a held-out set written separately (never tuned on alone).

The floors here are regression guards a little under what the pipeline
measures today (README, Quality); raising them is the work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kb import evaluation
from kb.errors import InputError
from kb.question import validate_question
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.text.words import fold
from tests.conftest import DEVSET, ROOT

# The held-out sets; heldout2 was written blind (from the articles alone,
# without running omnikb) after every tuning so far.
HELDOUT_SETS = (ROOT / "eval" / "heldout.jsonl", ROOT / "eval" / "heldout2.jsonl")


def _table(kb: KnowledgeBase, path: Path = DEVSET) -> dict[str, dict[str, float | None]]:
    items = evaluation.load_items(path)

    def ask(item: evaluation.EvalItem) -> dict:
        history = [{"role": "user", "content": h} for h in item.history]
        return kb.ask(validate_question(item.question, history, 10)).to_dict()

    _, table = evaluation.run(items, ask, kb.retriever.index().translations)
    return table


def test_dev_set_quality_floors(kb: KnowledgeBase) -> None:
    total = _table(kb)["total"]
    assert total["hit@5"] is not None and total["hit@5"] >= 0.90
    assert total["hit@2000c"] is not None and total["hit@2000c"] >= 0.85
    assert total["mrr@10"] is not None and total["mrr@10"] >= 0.80
    # An answer quotes several articles: the gold is nearly always cited, and most citations come from a gold
    # article (0.63: up to four points, the margin set on the held-out sets and blogs, docs/quality.md).
    assert total["citation_hit"] is not None and total["citation_hit"] >= 0.88
    assert total["citation_precision"] is not None and total["citation_precision"] >= 0.60
    # Dev quote hit is 0.85: quotes chosen by meaning too, and an answer of fewer points quoting more of each
    # (docs/quality.md, Quotes).
    assert total["quote_hit"] is not None and total["quote_hit"] >= 0.85
    assert total["answered"] == 1.0
    assert total["abstained"] == 1.0
    assert total["language_ok"] == 1.0


# Floors a little under today's figures, per held-out set: (questions, floors).
# On the second set abstention is the known weak spot (questions asking which
# tool is best are answered with the nearest text).
HELD_OUT_FLOORS = {
    "heldout": (
        56,
        {
            "hit@5": 0.80,
            "mrr@10": 0.55,
            "citation_hit": 0.78,
            "citation_precision": 0.35,
            "quote_hit": 0.65,
            "abstained": 0.85,
        },
    ),
    "heldout2": (
        90,
        {
            "hit@5": 0.80,
            "mrr@10": 0.65,
            "citation_hit": 0.79,
            "citation_precision": 0.45,
            "quote_hit": 0.68,
            "abstained": 0.55,
        },
    ),
}


@pytest.mark.parametrize("name", sorted(HELD_OUT_FLOORS))
def test_held_out_quality_floors(kb: KnowledgeBase, name: str) -> None:
    questions, floors = HELD_OUT_FLOORS[name]
    total = _table(kb, ROOT / "eval" / f"{name}.jsonl")["total"]
    assert total["n"] == questions
    for metric, floor in {**floors, "answered": 0.9}.items():
        value = total[metric]
        assert value is not None and value >= floor, (metric, value)
    assert total["language_ok"] == 1.0


def test_every_gold_string_is_in_a_passage(kb: KnowledgeBase) -> None:
    """A gold string no passage contains would count a right answer as wrong."""
    index = kb.retriever.index()
    passages: dict[str, list[str]] = {}
    for chunk in index.chunks:
        passages.setdefault(chunk.source[:3], []).append(fold(chunk.text))
    for path in (DEVSET, *HELDOUT_SETS):
        for item in evaluation.load_items(path):
            for gold in item.gold:
                assert any(fold(gold.contains) in text for text in passages[gold.seed]), (path.name, item.id, gold)


@pytest.mark.parametrize("blog", ["bees", "bread", "coffee", "garden", "panela", "running"])
def test_every_gold_string_of_a_blog_is_in_a_passage_of_its_post(blog: str) -> None:
    """As for the seeds' sets: each blog's answerable questions name a passage that answers them."""
    from kb.ingest.chunk import chunk_document
    from kb.ingest.load import load_folder

    settings = Settings()
    loaded = load_folder(ROOT / "eval" / "blogs" / blog, settings.max_file_bytes)
    passages = {
        doc.source: [fold(c.text) for c in chunk_document(doc, settings.chunk_max_chars, settings.chunk_min_chars)]
        for doc in loaded.documents
    }
    for item in evaluation.load_items(ROOT / "eval" / "blogs" / f"{blog}.jsonl"):
        assert bool(item.gold) == item.answerable, item.id
        for gold in item.gold:
            texts = [text for source, listed in passages.items() if source.startswith(gold.seed) for text in listed]
            assert any(fold(gold.contains) in text for text in texts), (item.id, gold)


def test_scoring_counts_a_translation_as_the_original() -> None:
    item = evaluation.EvalItem("x", "en", "q", (), (evaluation.Gold("000", "fase de start-up"),), True, ())
    passage = {
        "source": "004_x.txt",
        "text": "…",
        "alternatives": [{"source": "000_y.txt", "text": "a fase de start-up"}],
    }
    answer = {"language": "en", "answer": "…", "answered": True, "passages": [passage], "citations": [passage]}
    score = evaluation.score_item(item, answer, {"004_x.txt": "000_y.txt", "000_y.txt": "004_x.txt"})
    assert score.values["hit@1"] == 1.0
    assert score.values["citation_precision"] == 1.0
    wrong = {"source": "003_z.txt", "text": "fase de start-up", "alternatives": []}
    score = evaluation.score_item(item, {**answer, "passages": [wrong], "citations": [wrong]}, {})
    assert score.values["hit@5"] == 0.0 and score.values["citation_precision"] == 0.0


def test_quote_hit_reads_the_answer_and_fact_hit_also_the_cited_text() -> None:
    item = evaluation.EvalItem("x", "pt", "q", (), (evaluation.Gold("003", "91% mai mult"),), True, ("91",))
    cited = {"source": "003_x.txt", "text": "ating cu 91% mai mult", "alternatives": []}
    answer = {"language": "pt", "answered": True, "passages": [cited], "citations": [cited]}
    quoted = evaluation.score_item(item, {**answer, "answer": "“Ating cu  91% MAI mult” [1]"}, {})
    assert quoted.values["quote_hit"] == 1.0 and quoted.values["fact_hit"] == 1.0
    elsewhere = evaluation.score_item(item, {**answer, "answer": "“Strategia e holistică.” [1]"}, {})
    assert elsewhere.values["quote_hit"] == 0.0 and elsewhere.values["fact_hit"] == 1.0
    uncited = {"source": "001_y.txt", "text": "sin cifras", "alternatives": []}
    missed = evaluation.score_item(
        item, {**answer, "answer": "“Sin cifras.” [1]", "passages": [uncited], "citations": [uncited]}, {}
    )
    assert missed.values["quote_hit"] == 0.0 and missed.values["fact_hit"] == 0.0
    without_facts = evaluation.score_item(
        evaluation.EvalItem("y", "pt", "q", (), item.gold, True, ()), {**answer, "answer": "x"}, {}
    )
    assert without_facts.values["fact_hit"] is None


@pytest.mark.server
def test_kb_eval_prints_a_table_per_language(seeded_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    subset = tmp_path / "subset.jsonl"
    lines = DEVSET.read_text(encoding="utf-8").splitlines()
    subset.write_text("\n".join(lines[:3] + lines[-6:-1]) + "\n", encoding="utf-8")
    run = tmp_path / "run.json"

    def kb_eval(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kb", "--data-dir", str(seeded_settings.data_dir), "eval", str(subset), *extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    result = kb_eval("--json", "--save", str(run))
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert set(table) >= {"en", "es", "ar", "total"}
    assert table["total"]["n"] == 8
    assert len(evaluation.load_run(run)) == 8
    nowhere = kb_eval("--save", str(tmp_path / "no" / "run.json"))
    assert nowhere.returncode == 2 and "no folder" in nowhere.stderr, nowhere.stderr
    # The same index again: nothing fixed, nothing broken.
    again = kb_eval("--against", str(run))
    assert again.returncode == 0, again.stderr
    assert "Against" in again.stdout and "0 fixed, 0 broken, 0 both" in again.stdout, again.stdout


def _score(id: str, lang: str, **values: float | None) -> evaluation.ItemScore:
    item = evaluation.EvalItem(id, lang, "q", (), (), True, ())
    return evaluation.ItemScore(item, {**dict.fromkeys(evaluation.METRICS), **values}, None)


def test_a_saved_run_tells_the_questions_a_change_fixes_and_breaks(tmp_path: Path) -> None:
    before = [
        _score("a", "pt", **{"hit@1": 0.0, "hit@5": 1.0, "citation_hit": 0.0}),
        _score("b", "ar", **{"hit@1": 1.0, "hit@5": 1.0, "citation_hit": 1.0}),
        _score("c", "ar", **{"hit@1": 0.0, "hit@5": 0.0, "citation_hit": 1.0}),
        _score("gone", "en", **{"hit@1": 1.0}),
    ]
    run = tmp_path / "before.json"
    evaluation.save_run(before, run, Path("eval/heldout.jsonl"))
    after = [
        _score("a", "pt", **{"hit@1": 1.0, "hit@5": 1.0, "citation_hit": 1.0}),  # fixed twice
        _score("b", "ar", **{"hit@1": 0.0, "hit@5": 1.0, "citation_hit": 1.0}),  # broken
        _score("c", "ar", **{"hit@1": 0.0, "hit@5": 1.0, "citation_hit": 0.0}),  # one better, one worse
        _score("new", "en", **{"hit@1": 0.0}),
    ]
    comparison = evaluation.compare(run, evaluation.load_run(run), after)
    by_metric = {c.metric: ([i.id for i in c.fixed], [i.id for i in c.broken]) for c in comparison.changes}
    assert by_metric["hit@1"] == (["a"], ["b"])
    assert by_metric["hit@5"] == (["c"], [])
    assert by_metric["citation_hit"] == (["a"], ["c"])
    assert [i.id for i in comparison.fixed] == ["a"]
    assert [i.id for i in comparison.broken] == ["b"]
    assert [i.id for i in comparison.mixed] == ["c"]
    assert (comparison.common, comparison.new, comparison.gone) == (3, ("new",), ("gone",))
    text = evaluation.format_comparison(comparison)
    assert "hit@1         fixed 1 (pt 1): a" in text and "broken 1 (ar 1): b" in text
    assert "Questions: 1 fixed, 1 broken, 1 both" in text
    assert "1 only in this run, 1 only in the saved one" in text


@pytest.mark.parametrize(
    ("content", "said"),
    [(None, "Cannot read the saved run"), ("{not json", "not JSON"), ('{"items": {}}', "not a run saved by")],
)
def test_a_run_that_cannot_be_compared_is_told_plainly(tmp_path: Path, content: str | None, said: str) -> None:
    run = tmp_path / "run.json"
    if content is not None:
        run.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=said):
        evaluation.load_run(run)


def test_the_bench_scores_retrieval_only_systems_with_the_same_metrics() -> None:
    from bench.quality import score_retrieval

    items = evaluation.load_items(DEVSET)[:3]
    gold = items[0].gold[0]
    passage = {"source": f"{gold.seed}_x.txt", "text": gold.contains, "alternatives": []}
    scores, latencies = score_retrieval(items, lambda item: [passage] if item is items[0] else [], {})
    assert len(latencies) == 3
    assert scores["hit@1"] is not None and abs(scores["hit@1"] - 1 / 3) < 1e-9
