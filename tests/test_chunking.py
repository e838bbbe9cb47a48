from __future__ import annotations

import pytest

from kb.ingest.chunk import PARAGRAPH_SLACK, blocks, chunk_document
from kb.ingest.load import load_folder, parse
from kb.models import Document
from kb.text.sentences import sentence_spans
from tests.conftest import SEEDS

DOCS = load_folder(SEEDS, 10_000_000).documents


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.source[:3])
def test_chunks_are_verbatim_slices_that_cover_the_text(doc: Document) -> None:
    chunks = chunk_document(doc, max_chars=550, min_chars=250)
    assert chunks
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.id == f"{doc.source}#{chunk.ordinal}"
        assert chunk.language == doc.language and chunk.title == doc.title
        # max_chars is soft: a passage may grow past it rather than leave a crumb under min_chars.
        assert len(chunk.text) <= max(550 + 250, 550 * PARAGRAPH_SLACK + 120)
    assert sum(len(c.text) <= 550 for c in chunks) >= 0.75 * len(chunks)
    covered = sum(len(c.text) for c in chunks)
    assert covered >= 0.97 * len(doc.text.replace("\n\n", ""))
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_a_section_passage_starts_with_its_heading() -> None:
    doc = next(d for d in DOCS if d.source.startswith("001"))
    chunks = chunk_document(doc)
    heading_chunk = next(c for c in chunks if c.heading == "Falta de infraestructura")
    assert heading_chunk.text.startswith("Falta de infraestructura")


def test_numbered_headings_and_bullets_are_recognised() -> None:
    doc = next(d for d in DOCS if d.source.startswith("003"))
    kinds = {doc.text[b.start : b.end]: b.kind for b in blocks(doc.text)}
    assert kinds["1. Canal vs. client"] == "heading"
    pt = next(d for d in DOCS if d.source.startswith("000"))
    assert any(k == "bullet" for k in (b.kind for b in blocks(pt.text)))


def test_a_tables_rows_are_items_of_its_section_not_headings() -> None:
    text = (
        "Transalp\n\nDie Route\n\nTag | Etappe | Kilometer\n\n1 | Garmisch – Imst | 98\n\n2 | Imst – Nauders | 87\n\n"
        "Wir sind jeden Tag früh losgefahren, um der Hitze am Nachmittag zu entgehen."
    )
    doc = Document(source="t.txt", title="Transalp", language="de", text=text, content_hash="x")
    kinds = {text[b.start : b.end]: b.kind for b in blocks(text)}
    assert kinds["1 | Garmisch – Imst | 98"] == "bullet" and kinds["Die Route"] == "heading"
    assert {c.heading for c in chunk_document(doc) if "Garmisch" in c.text} == {"Die Route"}


def test_long_arabic_paragraphs_split_between_sentences() -> None:
    text = "عنوان\n\n" + " ".join(["هذه جملة طويلة عن القنوات المتعددة والتسويق الشامل." for _ in range(40)])
    doc = Document("x.txt", "عنوان", "ar", text, "h")
    chunks = chunk_document(doc, max_chars=400, min_chars=100)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text.endswith(".")
        assert len(chunk.text) <= 400


def test_a_closing_quote_stays_with_its_sentence() -> None:
    text = 'He said "stop." Then «enough!» came. (It ended.) Fine.'
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences == ['He said "stop."', "Then «enough!» came.", "(It ended.)", "Fine."]


def _paragraph(sentences: int) -> str:
    return " ".join(f"Sentence number {n} says one more thing about channels." for n in range(sentences))


def test_a_paragraph_slightly_over_the_limit_stays_whole_with_its_heading() -> None:
    paragraph = _paragraph(9)  # about 1.1 x max_chars
    assert 400 < len(paragraph) <= 400 * PARAGRAPH_SLACK
    text = f"A heading\n\n{paragraph}\n\nAnother paragraph that ends here."
    chunks = chunk_document(Document("x.txt", "Title", "en", text, "h"), max_chars=400, min_chars=100)
    whole = [c for c in chunks if paragraph in c.text]
    assert len(whole) == 1 and whole[0].text.startswith("A heading")


def test_a_paragraph_well_over_the_limit_is_split_between_sentences() -> None:
    paragraph = _paragraph(20)  # about 2.4 x max_chars
    text = f"Title\n\n{paragraph}"
    chunks = chunk_document(Document("x.txt", "Title", "en", text, "h"), max_chars=400, min_chars=100)
    pieces = [c for c in chunks if c.text.startswith("Sentence") or "Sentence number 0" in c.text]
    assert len(pieces) >= 2
    assert all(c.text.endswith(".") for c in pieces)


TABLE_PAGE = """# Opening hours

Our shops open at different times across the region, and the table below lists them for each town we serve.
Weekend hours differ; holidays are announced on the front page a week ahead, and the online shop never closes.{pad}

| Town | Weekdays | Saturday |
|---|---|---|
| Lisbon | 9-19 | 10-14 |
| Porto | 9-18 | 10-13 |
| Braga | 10-18 | closed |

Click and collect orders wait three days.
"""


@pytest.mark.parametrize("max_chars", [300, 450, 550, 700])
def test_a_tables_header_row_stays_with_its_first_row(max_chars: int) -> None:
    """A passage could end with a table's header row, which was then quoted alone: column names, no data."""
    for words in range(40):
        page = TABLE_PAGE.format(pad=" More words here." * words)
        doc = parse("hours.md", page.encode())
        chunks = chunk_document(doc, max_chars=max_chars, min_chars=max_chars // 2)
        assert all(doc.text[c.start : c.end] == c.text for c in chunks)
        with_header = [c for c in chunks if "Town | Weekdays | Saturday" in c.text]
        assert len(with_header) == 1 and "Lisbon | 9-19 | 10-14" in with_header[0].text, (words, chunks)


CODE_HTML = """<html><head><title>Deploying with systemd</title></head><body><article>
<h1>Deploying with systemd</h1>
<p>A small service needs little more than a unit file and two commands.</p>
<h2>The unit file</h2>
<p>Save this as /etc/systemd/system/kb.service, with your own paths:</p>
<pre><code>[Unit]
Description=Knowledge base
After=network-online.target

[Service]
User=kb
WorkingDirectory=/srv/kb
ExecStart=/srv/kb/.venv/bin/python app.py serve
Restart=on-failure

[Install]
WantedBy=multi-user.target</code></pre>
<p>Then reload systemd so that it reads the new file.</p>
<h2>Starting it</h2>
<pre>sudo systemctl enable --now kb</pre>
<p>The service now starts at boot and restarts when it fails.</p>
</article></body></html>
"""

CODE_MARKDOWN = """---
title: Counting words in Python
---

A word count takes a few lines of Python and no library.

## The script

Read the file and count what split() returns:

```python
# count the words of a file
import sys
from collections import Counter

def main(path):
    words = open(path).read().split()
    for word, n in Counter(words).most_common(10):
        print(word, n)
```

Run it on any text file to see its ten most frequent words.

## Running it

```
python count.py notes
```

It prints one word and its count per line.
"""


@pytest.mark.parametrize(
    ("source", "page", "sections"),
    [
        ("deploy.html", CODE_HTML, {"The unit file": "WantedBy=multi-user.target", "Starting it": "enable --now kb"}),
        ("count.md", CODE_MARKDOWN, {"The script": "most_common(10)", "Running it": "python count.py notes"}),
    ],
)
def test_a_code_listing_stays_in_its_section_and_no_code_line_is_a_heading(
    source: str, page: str, sections: dict[str, str]
) -> None:
    """A <pre>'s or a fenced block's short lines without a stop ("[Unit]", "import sys",
    "# count the words of a file", "sudo systemctl enable --now kb") were read as
    headings: a listing became many tiny sections, each under a line of code."""
    doc = parse(source, page.encode())
    title = doc.title
    assert [b for b in blocks(doc.text) if b.kind == "heading"] == [
        b for b in blocks(doc.text) if doc.text[b.start : b.end] in (title, *sections)
    ]
    for max_chars in (120, 300, 550):
        chunks = chunk_document(doc, max_chars=max_chars, min_chars=max_chars // 2)
        assert all(doc.text[c.start : c.end] == c.text for c in chunks)
        assert {c.heading for c in chunks} <= {title, *sections}, [c.heading for c in chunks]
        for heading, code in sections.items():
            holding = [c for c in chunks if code in c.text]
            assert len(holding) == 1 and holding[0].heading == heading, (max_chars, heading, holding)
        # The code is in the passages of its section, in one piece when it fits.
        listing = next(c for c in chunks if "[Unit]" in c.text or "import sys" in c.text)
        if max_chars >= 300:
            assert ("[Unit]" in listing.text) == ("WantedBy=multi-user.target" in listing.text)
            assert ("import sys" in listing.text) == ("print(word, n)" in listing.text)
