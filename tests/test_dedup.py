"""The same article under two paths (a post and the page built from it) is indexed once (kb/ingest/dedup.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from kb.ingest.dedup import SAME, shingles, similarity, unique_documents
from kb.ingest.load import MAX_LISTED_OTHERS, load_folder, parse
from tests.test_blog_export import _export
from tests.test_cli import kb

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

# The stock post of ``_export``, as the site built it: the site's frame around
# an <article> with the post's title, date and text.
BUILT_STOCK_PAGE = """<!doctype html><html><head><title>Syncing stock | Retail Notes</title></head>
<body><header><nav><a href="/">Home</a> <a href="/about/">About</a></nav></header>
<main><article><h1>Syncing stock: the "one count" rule</h1><time datetime="2024-02-10">2024-02-10</time>
<p>When a shop and its website share one stock count, nobody orders online a jacket that sold out in the store.</p>
<h2>What to do</h2>
<p>Connect the till and the web shop to one inventory service.</p></article></main>
<footer>© 2024 Retail Notes</footer></body></html>"""

POST = (
    "# Click and collect\n\nClick and collect lets a customer buy online and pick the order up in a store. "
    "Start with one store and a shelf near the entrance, then train the staff to hand orders over in a minute. "
    "Tell customers by text message when the order is ready, and keep it for a week.\n"
)


def test_a_post_and_its_built_page_are_one_article_and_the_source_file_is_kept() -> None:
    page = (
        "<html><body><nav>Home</nav><article>"
        + "".join(f"<p>{line}</p>" for line in POST.replace("# ", "").split("\n") if line)
        + "<p>Written by Ana.</p></article></body></html>"
    )
    other = "# Loyalty\n\nA loyalty card that only works in the shop tells online customers that they matter less.\n"
    docs = [
        parse("public/click/index.html", page.encode()),
        parse("content/click.md", POST.encode()),
        parse("content/loyalty.md", other.encode()),
    ]
    assert SAME <= similarity(shingles(docs[0].text), shingles(docs[1].text)) < 1  # nearly, not exactly, the same
    kept, repeats = unique_documents(docs)
    assert [d.source for d in kept] == ["content/click.md", "content/loyalty.md"]
    assert [(p.path, p.reason) for p in repeats] == [
        ("public/click/index.html", "the same article as content/click.md, indexed once")
    ]


def test_a_copy_that_turns_up_later_does_not_displace_the_indexed_article() -> None:
    """A stray copy at a path that sorts first ("broken/pasta.TXT") took the
    place of the indexed "notes/pasta.txt", whose citations and links then gave 404."""
    docs = [parse("broken/pasta.TXT", POST.encode()), parse("notes/pasta.txt", POST.encode())]
    assert [d.source for d in unique_documents(docs)[0]] == ["broken/pasta.TXT"]  # a first ingest: path order
    kept, repeats = unique_documents(docs, indexed=frozenset({"notes/pasta.txt", "other.md"}))
    assert [d.source for d in kept] == ["notes/pasta.txt"]
    assert [(p.path, p.reason) for p in repeats] == [
        ("broken/pasta.TXT", "the same article as notes/pasta.txt, indexed once")
    ]


def test_articles_on_the_same_subject_and_translations_are_not_repeats() -> None:
    loaded = load_folder(SEEDS, 1_000_000)
    kept, repeats = unique_documents(loaded.documents)
    assert kept == loaded.documents and repeats == ()
    # An identical text in another language's reading would not be the same
    # article either: only same-language documents are compared.
    english = parse("a.md", POST.encode())
    assert unique_documents([english, replace(english, source="b.md", language="pt")])[1] == ()


@pytest.mark.server  # the CLI as a subprocess
def test_a_site_folder_with_posts_and_built_pages_indexes_each_post_once(tmp_path: Path) -> None:
    root = _export(tmp_path / "site")
    built = root / "public" / "posts" / "stock"
    built.mkdir(parents=True)
    (built / "index.html").write_text(BUILT_STOCK_PAGE, encoding="utf-8")
    data = tmp_path / "kb"
    ingested = kb("ingest", "--quiet", str(root), data_dir=data)
    assert ingested.returncode == 0, ingested.stderr
    assert "3 added" in ingested.stderr and f"{MAX_LISTED_OTHERS + 3} skipped" in ingested.stderr
    assert "public/posts/stock/index.html" in ingested.stderr
    assert "the same article as content/posts/stock/index.md" in ingested.stderr

    question = "How do I stop selling online a jacket that already sold out in the store?"
    asked = kb("ask", "--json", question, data_dir=data)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    sources = [p["source"] for p in answer["passages"]]
    assert "public/posts/stock/index.html" not in sources
    assert answer["citations"][0]["source"] == "content/posts/stock/index.md"
    texts = [" ".join(p["text"].split()) for p in answer["passages"]]
    assert len(texts) == len(set(texts))
