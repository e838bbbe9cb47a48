"""The example questions the chat and the widget offer (kb.search.examples), on small blogs
ingested into temporary folders: the real embedder, a real embedded Chroma."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from kb.question import validate_question
from kb.service import KnowledgeBase
from kb.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BREAD = ROOT / "eval" / "blogs" / "bread"
COOKING = ROOT / "tests" / "corpora" / "cooking"
# The Arabic bread blog's closing heading of "seven mistakes I made": "What did I learn?".
LEARNED = "ما الذي تعلمته؟"

STARTER_CARE = """\
# Looking after a sourdough starter

## How long does a starter keep in the fridge?

A fed starter keeps for about two weeks in the fridge. Take it out the day before you bake,
feed it twice, and use it once it doubles in four to six hours.

## Why?

Because a starter that rests in the cold needs fewer feeds, and a loaf from it tastes no different.
"""


def _ingested(folder: Path, data: Path) -> KnowledgeBase:
    base = KnowledgeBase(Settings(data_dir=data / "kb", seeds_dir=folder))
    base.ingest(folder)
    return base


@pytest.fixture(scope="module")
def bread(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """Four articles of the bread blog: the one that closes on "What did I learn?" and three others."""
    folder = tmp_path_factory.mktemp("bread") / "blog"
    for post in ("beginner-mistakes", "first-loaf", "sourdough-starter"):
        shutil.copytree(BREAD / "posts" / post, folder / "posts" / post)
    (folder / "saved").mkdir()
    shutil.copy(BREAD / "saved" / "bread-storage.html", folder / "saved")
    return _ingested(folder, folder.parent)


@pytest.fixture(scope="module")
def cooking(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The cooking corpus and an article with a question heading of nothing but "Why?"."""
    folder = tmp_path_factory.mktemp("cooking") / "blog"
    shutil.copytree(COOKING, folder)
    (folder / "starter-care.md").write_text(STARTER_CARE, encoding="utf-8")
    return _ingested(folder, folder.parent)


def test_a_question_about_the_author_comes_after_those_the_blog_is_about(bread: KnowledgeBase) -> None:
    """The bread blog's first example was "ما الذي تعلمته؟" ("What did I learn?"): the only
    question heading of the article that sorts first, which no reader can usefully ask."""
    offered = bread.example_questions(limit=100)
    assert len(offered) >= 5 and LEARNED in offered, offered
    assert offered[-1] == LEARNED, offered
    assert LEARNED not in bread.example_questions(limit=3)  # the widget's three
    # The others still come from each article in turn: the first three, from three articles.
    texts = {s["source"]: " ".join(bread.document(s["source"]).text.split()) for s in bread.sources()}
    assert len({next(s for s, text in texts.items() if q in text) for q in offered[:3]}) == 3, offered


def test_an_example_the_knowledge_base_refuses_is_not_offered(cooking: KnowledgeBase) -> None:
    """A heading of function words alone ("Why?") asks nothing the sources can be searched
    for: asked, it is refused, so it is no example."""
    assert not cooking.ask(validate_question("Why?")).answered
    offered = cooking.example_questions(limit=10)
    assert offered == ["How long does a starter keep in the fridge?"], offered
    assert cooking.ask(validate_question(offered[0])).answered


def test_example_questions_are_chosen_once_per_generation(
    bread: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every page load asks for them: after the first, no question is embedded again, for any reader."""
    first = bread.example_questions()
    embedded: list[int] = []
    encode, sparse = bread.embedder.encode, bread.embedder.sparse
    monkeypatch.setattr(bread.embedder, "encode", lambda *a, **k: embedded.append(1) or encode(*a, **k))
    monkeypatch.setattr(bread.embedder, "sparse", lambda *a, **k: embedded.append(1) or sparse(*a, **k))
    for reader in (None, "ar", "en", "es"):
        assert bread.example_questions(reader=reader) == first
    assert embedded == []


def test_an_index_without_sentence_vectors_ranks_its_questions_the_same(bread: KnowledgeBase) -> None:
    """An index built before sentences had vectors: the headings are embedded as questions, as ingest would."""
    from kb.search import examples

    index = bread.retriever.index()
    encode = lambda texts: bread.embedder.encode(texts, is_query=True)  # noqa: E731
    kept = examples.ranked(index, encode)
    older = examples.ranked(replace(index, sentence_vectors={}), encode)
    assert [e.text for e in older] == [e.text for e in kept] and len(kept) >= 5
    assert [e.centrality for e in older] == pytest.approx([e.centrality for e in kept], abs=1e-4)


GARDEN_AND_KITCHEN = {
    "quenby-cucumber.md": "# Growing Quenby Sweet cucumber\n\n## When should I sow Quenby Sweet cucumber?\n\n"
    "Sow Quenby Sweet cucumber indoors in late April, two seeds to a pot, and plant out in June.\n",
    "alderley.md": "# Growing Alderley Stripe sweetcorn\n\n## When should I sow Alderley Stripe sweetcorn?\n\n"
    "Sow Alderley Stripe sweetcorn in May in deep pots, and plant it out in blocks after the last frost.\n",
    "lemon-curd.md": "# Homemade lemon curd\n\n## How long does it keep?\n\n"
    "Lemon curd keeps for two weeks in a sealed jar in the fridge.\n",
    "varroa.md": "# Keeping bees: checking for varroa\n\n## How do I count the varroa mites?\n\n"
    "Slide a sticky board under the hive for three days and count the varroa mites that fall on it.\n",
}


def test_an_example_names_its_article_s_subject_and_a_question_s_shape_is_offered_once(tmp_path: Path) -> None:
    """A blog of 400 posts offered "How long does it keep?" (of which post?) first, then
    "When should I sow …?" of one variety after another."""
    folder = tmp_path / "blog"
    folder.mkdir()
    for name, text in GARDEN_AND_KITCHEN.items():
        (folder / name).write_text(text, encoding="utf-8")
    shown = _ingested(folder, tmp_path).example_questions(10)
    varroa = "How do I count the varroa mites?"
    sow = [question for question in shown if question.startswith("When should I sow")]
    assert len(sow) == 2 and varroa in shown, shown
    # One of the two sowing questions, and the varroa one, before the second sowing question.
    assert set(shown[:2]) == {sow[0], varroa} and shown.index(sow[1]) > 1, shown
    if "How long does it keep?" in shown:  # asked alone, it may be refused
        assert shown.index("How long does it keep?") > 1, shown
