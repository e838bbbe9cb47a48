"""The HTML eval set (``eval/html``): the eval articles published as blog pages in three
themes (WordPress, Blogger, Hugo), read by the real extractor. Each page gives its
article's text and headings, and none of the other posts' titles or excerpts that its
sidebar, related posts and post navigation show; every gold string of the sets is in
the text of a page it names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.evaluation import load_items
from kb.ingest.chunk import headings
from kb.ingest.load import parse
from kb.text.words import fold

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "eval" / "html"
BLOGS = ("coffee", "garden", "running")
SOURCES = {"seeds": ROOT / "seeds", **{blog: ROOT / "eval" / "blogs" / blog for blog in BLOGS}}
# A few pages: each theme, five languages.
PAGES = [
    ("seeds", "000_9473cab8017bbeac"),  # WordPress, pt
    ("seeds", "001_016916c4e286d33c"),  # Blogger, es
    ("seeds", "002_8f573ef52dea0fed"),  # Hugo, es
    ("seeds", "004_84f0c51f48149d1b"),  # Blogger, ar
    ("coffee", "espresso"),  # Blogger, en
    ("garden", "plagas"),  # Hugo, es
    ("running", "ernaehrung"),  # WordPress, de
]
_BULLET = re.compile(r"^[•\-*]\s+")


def _lines(text: str) -> list[str]:
    return [n for line in text.split("\n") if (n := " ".join(_BULLET.sub("", line.strip()).split()))]


def _source(name: str, stem: str) -> str:
    path = next(p for p in SOURCES[name].iterdir() if p.stem == stem)
    return parse(path.name, path.read_bytes()).text


@pytest.mark.parametrize(("name", "stem"), PAGES)
def test_a_blog_page_gives_its_article_with_its_headings_and_no_other_posts_excerpt(name: str, stem: str) -> None:
    page = HTML / name / f"{stem}.html"
    doc = parse(page.name, page.read_bytes())
    got = _lines(doc.text)
    article = _lines(_source(name, stem))
    # Every line of the article, each a line of its own (a heading run into its paragraph is lost to the chunker).
    assert [line for line in article if line not in got] == []
    assert [h for h in headings(_source(name, stem)) if " ".join(h.split()) not in got] == []
    # Nor is any of the frame: each line is the article's (the title as the page gives it).
    whole = "\n".join(article)
    assert [line for line in got if line not in whole and line != doc.title] == []
    # What the page shows of the other posts (their titles, their first lines) is not its text.
    for other in SOURCES[name].iterdir():
        if other.stem == stem or other.suffix not in (".md", ".txt"):
            continue
        shown = _lines(parse(other.name, other.read_bytes()).text)
        title, opening = shown[0], next(line for line in shown[1:] if len(line) > 60)[:60]
        assert title not in got or title in article, (other.name, title)
        assert not any(opening in line for line in got), (other.name, opening)



def test_every_gold_string_is_in_the_text_the_reader_gives_its_page() -> None:
    sets = {
        "seeds": [ROOT / "eval" / f"{name}.jsonl" for name in ("devset", "heldout", "heldout2")],
        **{blog: [HTML / f"{blog}.jsonl"] for blog in BLOGS},
    }
    for name, files in sets.items():
        texts = {page.name: fold(parse(page.name, page.read_bytes()).text) for page in (HTML / name).glob("*.html")}
        for item in (item for path in files for item in load_items(path)):
            for gold in item.gold:
                pages = [text for source, text in texts.items() if source.startswith(gold.seed)]
                assert pages, (item.id, gold.seed)
                assert any(fold(gold.contains) in text for text in pages), (item.id, gold.contains)
