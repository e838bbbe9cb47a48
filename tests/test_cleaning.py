from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from kb.errors import IngestError
from kb.ingest.clean import PREFORMATTED, clean_text
from kb.ingest.html import html_to_text
from kb.ingest.load import load_folder, parse
from kb.ingest.markdown import markdown_to_text
from tests.conftest import SEEDS


def _raw(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def test_comment_form_and_data_protection_lines_are_removed() -> None:
    cleaned = clean_text(_raw("000")).text
    assert "Deixe um comentário" not in cleaned
    assert "Responsável pelos dados" not in cleaned
    assert "Occentus" not in cleaned
    assert cleaned.rstrip().endswith("detrimento dos outros.")


def test_share_footer_and_comment_prompt_are_removed() -> None:
    cleaned = clean_text(_raw("002")).text
    assert "See more at" not in cleaned
    assert "Publicar un comentario" not in cleaned
    assert "No hay comentarios" not in cleaned


def test_a_repeated_article_is_kept_once() -> None:
    raw = _raw("002")
    assert raw.count("La integración es la gran diferencia") == 2
    cleaned = clean_text(raw).text
    assert cleaned.count("La integración es la gran diferencia") == 1
    assert cleaned.count("omnicanal se refiere a todos los conductos") == 1
    # The part that only the second copy has is kept.
    assert "muchos tienen a creer que los dos términos" in cleaned


def test_the_page_title_and_the_image_credit_do_not_open_the_article() -> None:
    # 002 opens with the page's title ("… » MuyCanal"), the article's heading
    # saying the same, and a photo caption ending with its credit.
    raw = _raw("002")
    assert raw.startswith("Las diferencias entre un negocio omnicanal o multicanal » MuyCanal\n")
    cleaned = clean_text(raw)
    assert cleaned.text.startswith(
        "Las diferencias entre un negocio omnicanal o multicanal\n\nOmnicanal, el siguiente paso\n\n"
        "La integración es la gran diferencia."
    )
    assert "MuyCanal" not in cleaned.text
    assert "| Omnicanal.es" not in cleaned.text
    assert cleaned.title == "Las diferencias entre un negocio omnicanal o multicanal"


def test_a_title_line_is_kept_unless_the_next_line_repeats_it_without_the_site() -> None:
    body = "The body of the article, long enough to be a paragraph of its own."
    assert clean_text(f"Stock online » Shop Blog\nStock online\n{body}").text == f"Stock online\n\n{body}"
    # A first line followed by another heading is kept, site name and all.
    assert clean_text(f"Stock online » Shop Blog\nWhy it matters\n{body}").text.startswith(
        "Stock online » Shop Blog\n\nWhy it matters"
    )
    # A line with a bar inside a sentence is text, not a credit.
    line = "Compare the plans | prices differ by region and by shop size."
    assert line in clean_text(f"Title\n{line}\n{body}").text


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name[:3])
def test_cleaning_never_rewrites_words(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    normalised_raw = " ".join(raw.split())
    for block in clean_text(raw).text.split("\n\n"):
        assert " ".join(block.split()) in normalised_raw


def test_title_is_the_first_line_without_the_site_name() -> None:
    assert clean_text(_raw("002")).title == "Las diferencias entre un negocio omnicanal o multicanal"
    long_first_line = clean_text(_raw("004")).title
    assert 10 < len(long_first_line) <= 125


def test_html_is_turned_into_text_blocks() -> None:
    text = html_to_text(
        "<html><head><style>p{}</style></head><body><h1>Title</h1><p>One &amp; two.</p>"
        "<script>alert(1)</script><ul><li>item</li></ul></body></html>"
    )
    cleaned = clean_text(text)
    assert cleaned.title == "Title"
    assert "One & two." in cleaned.text
    assert "alert" not in cleaned.text
    assert "• item" in cleaned.text


def test_languages_are_detected_per_document() -> None:
    loaded = load_folder(SEEDS, 10_000_000)
    assert [d.language for d in loaded.documents] == ["pt", "es", "es", "ro", "ar"]
    assert not loaded.problems


def test_bad_files_are_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "a-good.txt").write_text("A title\n\nSome text about channels.", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Título\n\nCanais de comunicação".encode("latin-1"))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "second-copy.txt").write_text("A title\n\nSome text about channels.", encoding="utf-8")
    (tmp_path / "big.txt").write_text("x" * 2000, encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    loaded = load_folder(tmp_path, max_bytes=1000)
    assert [d.source for d in loaded.documents] == ["a-good.txt"]
    reasons = {p.path: p.reason for p in loaded.problems}
    assert "UTF-8" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "same text" in reasons["second-copy.txt"]
    assert "limit" in reasons["big.txt"]
    assert "image.png" in reasons


def test_parse_rejects_text_that_cleans_to_nothing() -> None:
    from kb.errors import IngestError

    with pytest.raises(IngestError):
        parse("x.txt", b"*\n*\n")


def test_html_entities_are_decoded_once() -> None:
    """A page that shows the text "&lt;script&gt;" keeps exactly that text: decoding twice would rewrite it."""
    text = html_to_text("<p>Write &amp;lt;script&amp;gt; to show a tag; caf&eacute; &amp; bar.</p>")
    assert "Write &lt;script&gt; to show a tag; café & bar." in text


MARKDOWN = """# Neapolitan pizza dough

Use a **finely milled** "00" flour, see [the guide](https://example.com/flour) or <https://example.com>.
Keep snake_case_names, 2*3*4 and *the dough* apart; `00` is the flour's grade.

## How much water? ##

* Mix and knead.
+ Let it rise.

> A wetter dough is lighter.

Baking
------

---
```
# a code line, kept
```
[guide]: https://example.com/flour
"""


def test_markdown_is_turned_into_text_without_its_marks() -> None:
    text = markdown_to_text(MARKDOWN)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines == [
        "Neapolitan pizza dough",
        # One paragraph on two lines: in Markdown one line break is a space.
        # "2*3*4" is 2<em>3</em>4 in CommonMark, as every blog engine shows it: the quote is the page's text.
        'Use a finely milled "00" flour, see the guide or https://example.com.'
        " Keep snake_case_names, 234 and the dough apart; 00 is the flour's grade.",
        "How much water?",
        "- Mix and knead.",
        "- Let it rise.",
        "A wetter dough is lighter.",
        "Baking",
        PREFORMATTED + "# a code line, kept",  # a listing's line, marked for cleaning
    ]


def test_a_markdown_article_is_titled_and_quoted_without_its_marks() -> None:
    doc = parse("pizza.md", MARKDOWN.encode())
    assert doc.title == "Neapolitan pizza dough"
    assert "**" not in doc.text and "](" not in doc.text and "## " not in doc.text
    # A .txt file is taken as written: its "#" and "**" stay.
    assert "**finely milled**" in parse("pizza.txt", MARKDOWN.encode()).text


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_table_cells_and_definition_lists_do_not_run_together() -> None:
    """A row is a line with " | " between its cells: "1Garmisch – Imst98" was a new word."""
    text = html_to_text(
        "<table><thead><tr><th>Day</th><th>Stage</th><th>km</th></tr></thead>"
        "<tbody><tr><td>1</td><td>Garmisch – Imst</td><td>98</td></tr>"
        "<tr><td>2<td>Imst – Sölden<td>71</table>"
        "<dl><dt>Dose</dt><dd>15 g</dd><dt>Water</dt><dd>150 ml</dd></dl>"
        "<p>Share: <a href='#'>Facebook</a><a href='#'>X</a><a href='#'>Pinterest</a></p>"
    )
    assert _lines(text) == [
        "Day | Stage | km",
        "1 | Garmisch – Imst | 98",
        "2 | Imst – Sölden | 71",
        "Dose",
        "15 g",
        "Water",
        "150 ml",
        "Share: Facebook X Pinterest",
    ]


def test_an_ordered_lists_items_keep_their_numbers() -> None:
    text = html_to_text(
        "<ol><li>Fill the boiler.</li><li>Fill the basket.</ol>"
        "<ol start='3'><li>Heat it.<li value='7'>Serve.<li>Clean.</ol>"
        "<ol reversed start='2'><li>Two<li>One</ol><ul><li>A bullet</li></ul>"
    )
    assert _lines(text) == [
        "1. Fill the boiler.",
        "2. Fill the basket.",
        "3. Heat it.",
        "7. Serve.",
        "8. Clean.",
        "2. Two",
        "1. One",
        "• A bullet",
    ]


def test_with_an_article_the_readers_comments_in_main_are_not_text() -> None:
    page = (
        "<body><main><article><h1>Transalp</h1><p>Seven days, six passes.</p></article>"
        "<section><h3>3 comments</h3><div><b>Stefan</b> says: Which tyres did you ride?</div></section>"
        "</main></body>"
    )
    assert _lines(html_to_text(page)) == ["Transalp", "Seven days, six passes."]
    # Without <article>, <main> is still the article.
    assert _lines(html_to_text("<body><nav>Home</nav><main><p>Only main.</p></main></body>")) == ["Only main."]


def test_a_page_without_article_or_main_keeps_the_posts_body_not_the_sites_frame() -> None:
    # An old Blogger theme: the post's body is known by its class.
    page = (
        "<body><div id='cookie-notice'>This website uses cookies. <a>Accept</a></div>"
        "<div id='header'><div class='blog-title'>Coffee &amp; Cranks</div>"
        "<div class='menu'><a>Home</a> | <a>About</a></div></div>"
        "<div id='content'><div class='post'><h2 class='post-title'>Remote work</h2>"
        "<div class='post-meta'>Posted by Marta on 2 February 2024</div>"
        "<div class='post-body'><p>I work from a spare room.</p></div>"
        "<div class='post-footer'>Labels: <a>work</a> | 12 comments</div></div>"
        "<div id='comments'><h4>Leave a Reply</h4></div></div>"
        "<div id='sidebar'><p>Marta is a cyclist.</p></div></body>"
    )
    assert _lines(html_to_text(page)) == ["Remote work", "I work from a spare room."]
    # Without such a class, the body's text without the frame: header, menu, banner, byline, footer, sidebar.
    frame_only = page.replace("post-body", "text")
    assert _lines(html_to_text(frame_only)) == ["Remote work", "I work from a spare room."]
    # A post's own classes ("tag-related", "category-menu") never hide it.
    tagged = "<body><div class='post tag-related category-menu'><p>Kept.</p></div></body>"
    assert _lines(html_to_text(tagged)) == ["Kept."]


def test_share_buttons_related_posts_and_asides_inside_the_article_are_not_text() -> None:
    page = (
        "<article><h1>The perfect moka</h1><p>Never press the coffee.</p>"
        "<aside>Also read: espresso at home</aside>"
        "<div class='sharedaddy'><h3>Share:</h3><a>Facebook</a><a>X</a></div>"
        "<div class='social-share'>Tweet this</div>"
        "<div class='related-posts'><h3>Related posts</h3><article><h4>Cleaning the moka</h4></article></div>"
        "</article>"
    )
    assert _lines(html_to_text(page)) == ["The perfect moka", "Never press the coffee."]


def test_a_byline_is_dropped_only_where_the_page_marks_it() -> None:
    page = (
        "<article><header><h1>Transalp</h1><time datetime='2023-09-04'>4 September 2023</time></header>"
        "<p class='meta'>Veröffentlicht am 4. September 2023 von Marta Lindqvist</p>"
        "<div class='byline'>Posted by Marta</div><address>marta@example.com</address>"
        "<p>Posted by Marta on a mountain pass, on <time>4 September</time>, this line is text.</p></article>"
    )
    assert _lines(html_to_text(page)) == [
        "Transalp",
        "Posted by Marta on a mountain pass, on 4 September, this line is text.",
    ]


def test_the_articles_own_heading_titles_the_page_not_the_sites() -> None:
    page = (
        "<head><title>Caffè &amp; Pedali – La moka perfetta</title></head><body>"
        "<header><h1 class='site-title'>Caffè &amp; Pedali</h1></header>"
        "<main><article><h1>La moka perfetta</h1><p>Mai pressare il caffè.</p></article></main></body>"
    )
    doc = parse("moka.html", page.encode())
    assert doc.title == "La moka perfetta"
    assert _lines(doc.text) == ["La moka perfetta", "Mai pressare il caffè."]
    # Without a heading of its own, the <title> without the site's name, named in the header …
    no_heading = page.replace("<h1>La moka perfetta</h1>", "")
    assert _lines(html_to_text(no_heading)) == ["La moka perfetta", "Mai pressare il caffè."]
    # … or by og:site_name, before or after the title, with "-", "–", "—", "|" or "»" between.
    for title in ("Remote work - Coffee &amp; Cranks", "Coffee &amp; Cranks — Remote work"):
        tagged = (
            f"<head><title>{title}</title><meta property='og:site_name' content='Coffee &amp; Cranks'></head>"
            "<body><div class='post-body'><p>I work from home.</p></div></body>"
        )
        assert parse("remote.html", tagged.encode()).title == "Remote work", title
    # A name the page does not give is not taken for the site's: the line stays as written.
    unknown = "<head><title>Paris - the city of light</title></head><body><p>A trip.</p></body>"
    assert _lines(html_to_text(unknown))[0] == "Paris - the city of light"


def test_a_heading_classed_as_the_posts_title_titles_a_page_without_h1() -> None:
    page = (
        "<head><title>Remote work - Blog</title></head><body>"
        "<div class='post'><h2 class='post-title'>Four years of remote work</h2>"
        "<div class='post-body'><p>I work from a spare room.</p></div></div></body>"
    )
    doc = parse("remote.html", page.encode())
    assert doc.title == "Four years of remote work"
    assert _lines(doc.text) == ["Four years of remote work", "I work from a spare room."]


def test_markdown_comments_and_template_tags_are_markup_not_text() -> None:
    text = markdown_to_text(
        "---\ntitle: My starter\n---\n"
        "<!-- TODO: add a photo of the crumb -->\n\n"
        "I feed my starter twice a week.\n\n"
        '{{< youtube id="dQw4w9WgXcQ" >}}\n'
        "{{% notice tip %}}\nFeed it at 1:5:5.\n{{% /notice %}}\n"
        "{% include newsletter.html %}\n"
        "Written by {{ page.author }} in my kitchen.<!-- private:\nthe landlord must not know\n-->\n"
        '{{< figure src="crumb.jpg"\n  caption="The crumb" >}}\n'
        "Write `{{ .Title }}` or `<!-- -->` in a template.\n"
        "```\n<!-- a code line, kept -->\n```\n"
    )
    assert _lines(text) == [
        "My starter",
        "I feed my starter twice a week.",
        "Feed it at 1:5:5.",
        "Written by  in my kitchen.",
        "Write {{ .Title }} or <!-- --> in a template.",
        PREFORMATTED + "<!-- a code line, kept -->",
    ]


def test_a_utf16_file_with_its_byte_order_mark_is_text_not_binary(tmp_path: Path) -> None:
    text = "Notas de Windows\n\nEste artigo foi guardado no Bloco de Notas em UTF-16."
    (tmp_path / "le.txt").write_bytes(text.encode("utf-16"))  # Python writes the BOM, little-endian here
    (tmp_path / "be.md").write_bytes(codecs.BOM_UTF16_BE + text.replace("UTF-16", "UTF-16BE").encode("utf-16-be"))
    (tmp_path / "no-bom.txt").write_bytes(text.encode("utf-16-le"))  # no BOM: nothing says it is text
    loaded = load_folder(tmp_path, 10_000)
    assert [d.source for d in loaded.documents] == ["be.md", "le.txt"]
    assert {d.title for d in loaded.documents} == {"Notas de Windows"}
    assert loaded.documents[1].text == text
    assert [(p.path, p.reason) for p in loaded.problems] == [("no-bom.txt", "binary file (it contains NUL bytes)")]


def test_a_binary_file_that_starts_like_utf16_is_told_it_is_binary(tmp_path: Path) -> None:
    """A picture whose first bytes were FF FE was refused as "not valid UTF-16", as if it were a text to re-save."""
    noise = random.Random(7).randbytes(3000)
    (tmp_path / "photo.txt").write_bytes(codecs.BOM_UTF16_LE + noise)
    (tmp_path / "tiny.md").write_bytes(b"\xff\xfe\x00\x01\x02binary")
    (tmp_path / "wide.txt").write_bytes(codecs.BOM_UTF32_LE + noise)
    # A text saved as UTF-16 that one bad byte spoils is still a text to mend.
    spoiled = codecs.BOM_UTF16_LE + "Notas de Windows\n\nUm artigo.".encode("utf-16-le") + b"\x00\xd8"
    (tmp_path / "spoiled.txt").write_bytes(spoiled + "Mais texto.".encode("utf-16-le"))
    loaded = load_folder(tmp_path, 10_000)
    assert not loaded.documents
    reasons = {p.path: p.reason for p in loaded.problems}
    for name, encoding in (("photo.txt", "UTF-16"), ("tiny.md", "UTF-16"), ("wide.txt", "UTF-32")):
        assert reasons[name] == (
            f"binary file, not text (it starts with {encoding}'s byte order mark; the rest is not text)"
        ), name
    assert reasons["spoiled.txt"].startswith("not valid UTF-16 (byte ")
    assert all(p.broken for p in loaded.problems)


def test_a_title_without_any_text_is_not_an_article() -> None:
    from kb.errors import IngestError

    for source, raw in (
        ("only.md", b"---\ntitle: Only front matter\n---\n"),
        ("comment.md", b"+++\ntitle = 'A note'\n+++\n<!-- to write -->\n"),
        ("page.html", b"<html><head><title>Coming soon | Blog</title></head><body><nav>Home</nav></body></html>"),
    ):
        with pytest.raises(IngestError, match="no text left after cleaning"):
            parse(source, raw)


def test_a_markdown_tables_rows_read_as_cells_without_the_separator_row() -> None:
    text = markdown_to_text(
        "How fast it peaks:\n\n"
        "| Ratio | Time to peak | Taste |\n"
        "|-------|:------------:|------:|\n"
        "| 1:1:1 | 4 hours | **very** sour |\n"
        "1:5:5 | 9 hours | mild, yoghurty\n\n"
        "A line with a | bar is not a table.\n"
        "```\n| kept | as |\n|----|----|\n```\n"
    )
    assert _lines(text) == [
        "How fast it peaks:",
        "Ratio | Time to peak | Taste",
        "1:1:1 | 4 hours | very sour",
        "1:5:5 | 9 hours | mild, yoghurty",
        "A line with a | bar is not a table.",
        PREFORMATTED + "| kept | as |",
        PREFORMATTED + "|----|----|",
    ]


def test_markdown_footnotes_keep_their_text_at_the_end_with_marks_numbered_as_shown() -> None:
    from kb.answer.citations import MARKER

    text = markdown_to_text(
        "I feed at 1:5:5.[^ratio] It peaks in 9 hours.[^1] At 1:5:5 it is mild.[^ratio] See [^nowhere].\n\n"
        "[^1]: At 24 °C, in a *glass* jar.\n"
        "[^ratio]: Ratios are by weight,\n"
        "    never by volume.\n\n"
        "## Flour\n\nRye ferments faster.\n"
    )
    assert _lines(text) == [
        "I feed at 1:5:5.[1] It peaks in 9 hours.[2] At 1:5:5 it is mild.[1] See [^nowhere].",
        "Flour",
        "Rye ferments faster.",
        "[1] Ratios are by weight, never by volume.",
        "[2] At 24 °C, in a glass jar.",
    ]
    # The answer layer shows an article's own marks as "[…]": a footnote's mark is one of them.
    assert MARKER.sub("[…]", _lines(text)[0]).startswith("I feed at 1:5:5.[…] It peaks in 9 hours.[…]")


def test_markdown_html_footnote_urls_entities_and_escapes_read_as_a_page_shows_them() -> None:
    """An HTML block in a post was kept with its tags and its script, "&amp;" and "\\*" as written,
    and a note that is only a URL ("[^1]: https://…") would read as a link's definition."""
    text = markdown_to_text(
        'Pull a shot.\n\n<div class="tip">\n<p>Weigh the <b>output</b>, not the volume.</p>\n'
        "<script>track()</script>\n</div>\n\n"
        "Salt &amp; pepper, 5 \\* 3, a <kbd>Ctrl</kbd> key and a line<br>break.<script>track()</script>\n"
        "Sources[^1] and [a link](javascript:alert(1)).\n\n[^1]: https://example.com/a_b_(c)\n"
    )
    assert _lines(text) == [
        "Pull a shot.",
        "Weigh the output, not the volume.",
        "Salt & pepper, 5 * 3, a Ctrl key and a line",
        "break. Sources[1] and a link.",
        "[1] https://example.com/a_b_(c)",
    ]


WRAPPED = """Chain lubrication is the single most useful thing you can do for your bike.
Clean the chain with a rag and degreaser, then apply one drop of lube to each
roller while turning the pedals backwards.

Tyre pressure matters as much as the chain. Road tyres run at 80 to 100 psi,
while mountain bike tyres run much lower, depending on
the rider's weight and the terrain.
"""


def test_a_paragraph_wrapped_at_a_fixed_width_is_one_paragraph_again() -> None:
    """Each line of a post wrapped at 80 columns was a block of its own: passages
    began mid-sentence and quotes read "one drop of lube to each — roller"."""
    markdown = parse("bike.md", ("---\ntitle: Bikes\n---\n\n" + WRAPPED).encode()).text
    assert "one drop of lube to each roller while turning" in markdown
    assert "Clean the chain" in markdown and "\nTyre pressure" not in markdown.replace("\n\n", "")
    assert "80 to 100 psi, while mountain bike tyres run much lower, depending on the rider's weight" in markdown
    # Markdown's rules: a blank line ends a paragraph, a list item starts its own line, and two
    # spaces or a backslash at a line's end break it; headings, tables and code keep their lines.
    text = markdown_to_text(
        "# Title\n\nSome text\nwrapped here.  \nA hard break\\\nafter it.\n\n- item one\n  goes on\n- item two\n"
        "1. first\n2. second\n\nSetext\n======\nline one\nline two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "```\ncode 1\ncode 2\n```\n> quoted\n> on two lines\n"
    )
    assert text.split("\n") == [
        "Title", "", "Some text wrapped here.", "A hard break", "after it.", "",
        "- item one goes on", "- item two", "", "1. first", "2. second", "",
        "Setext", "", "line one line two", "", "a | b", "1 | 2", "",
        PREFORMATTED + "code 1", PREFORMATTED + "code 2", "", "quoted on two lines",
    ]  # fmt: skip
    # Plain text has no rules: a line that ends no sentence, followed by one in lower case, goes on.
    plain = parse("bike.txt", ("Bikes\n\n" + WRAPPED).encode()).text
    assert "one drop of lube to each roller while turning" in plain
    assert "depending on the rider's weight" in plain
    assert "Bikes\n" in plain  # a title is not a sentence the next line continues


def test_the_seeds_lines_are_not_joined() -> None:
    """One paragraph a line, headings on lines of their own: nothing to unwrap."""
    for path in sorted(SEEDS.glob("*.txt")):
        raw = path.read_bytes()
        assert parse(path.name, raw).text.count("\n") == clean_text(raw.decode("utf-8-sig")).text.count("\n"), path


def test_an_html_page_in_the_encoding_it_declares_is_read() -> None:
    """An old export saved on Windows says windows-1252 in its head; it was refused as "not UTF-8"."""
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        "<title>Café Culture in Vienna</title></head><body><article><h1>Café Culture in Vienna</h1>"
        "<p>Vienna’s cafés serve a glass of water with every coffee.</p></article></body></html>"
    )
    doc = parse("vienna.htm", page.encode("cp1252"))
    assert "Vienna’s cafés serve a glass of water" in doc.text
    assert parse("v.html", page.replace('http-equiv="Content-Type" content="text/html; ', "").encode("cp1252")).text
    # Undeclared, or not a page, it is still not UTF-8: nothing says which encoding it is.
    undeclared = page.replace("; charset=windows-1252", "").encode("cp1252")
    for source, raw in (("vienna.htm", undeclared), ("vienna.txt", page.encode("cp1252"))):
        with pytest.raises(IngestError, match="not UTF-8"):
            parse(source, raw)


def test_a_heading_s_id_is_markup() -> None:
    """kramdown's and Hugo's "{#top}" stayed in the heading, and a front-matter title
    the first heading repeats with it was then said twice: "Travel Packing List —
    Travel Packing List {#top} — …"."""
    text = markdown_to_text(
        "---\ntitle: Travel Packing List\n---\n# Travel Packing List {#top}\n\nPack light.\n\n"
        "## Shoes {.small #shoes}\n\nTwo pairs.\n\n## Sets {x}\n"
    )
    assert _lines(text) == ["Travel Packing List", "Pack light.", "Shoes", "Two pairs.", "Sets {x}"]


def test_an_html_pre_keeps_its_lines() -> None:
    """A <pre>'s lines (a recipe's amounts, a config file) ran together into one line."""
    page = (
        "<html><body><article><h1>Feeding a starter</h1><p>My schedule,\nevery day:</p>"
        "<pre>\nflour   50 g\nwater   50 g\n\n  starter 10 g</pre><p>Then wait.</p></article></body></html>"
    )
    doc = parse("starter.html", page.encode())
    # One block of lines (a listing), with a line break of its own at its end.
    assert doc.text == (
        "Feeding a starter\n\nMy schedule, every day:\n\nflour 50 g\nwater 50 g\nstarter 10 g\n\n\nThen wait."
    )


def test_a_listing_is_one_block_of_lines_ended_by_a_line_break_of_its_own() -> None:
    """A fenced block's or a <pre>'s lines were blocks of their own, like headings and
    paragraphs: nothing in the cleaned text said they were code."""
    text = parse(
        "setup.md",
        b"# Setup\n\nInstall it:\n\n```\npip install kb\n```\n\nThen write the config:\n\n"
        b"```toml\n[server]\nport = 8080\n\n[index]\n  path = \"data\"\n```\nDone.\n",
    ).text
    assert text == (
        "Setup\n\nInstall it:\n\npip install kb\n\n\nThen write the config:\n\n"
        '[server]\nport = 8080\n[index]\npath = "data"\n\n\nDone.'
    )
    # A listing that opens or closes the document: its first line titles it; its line break ends it.
    page = b"<html><body><pre>make all\nmake test</pre><p>Builds it.</p><pre>make install</pre></body></html>"
    doc = parse("make.html", page)
    assert doc.title == "make all" and doc.text == "make all\nmake test\n\n\nBuilds it.\n\nmake install\n"


def test_a_file_s_own_noncharacter_marks_no_listing() -> None:
    """Cleaning's mark for a listing's lines is a noncharacter: one in a file is dropped, not obeyed."""
    for source in ("notes.txt", "notes.md", "notes.html"):
        raw = "Notes\n\n\ufdd0A short line\n\nAnd a paragraph that ends."
        if source.endswith(".html"):
            raw = "<html><body><h1>Notes</h1><p>\ufdd0A short line</p><p>And a paragraph that ends.</p></body></html>"
        doc = parse(source, raw.encode())
        assert doc.text == "Notes\n\nA short line\n\nAnd a paragraph that ends.", source
    assert PREFORMATTED not in clean_text("a\n\ufdd0b\nc").text


# Identifiers and URLs that Markdown's emphasis, link and code marks must leave alone.
_CODE = [
    "max__pool__size",
    "__init__",
    "obj.__dict__",
    "*args, **kwargs",
    "a[0]*b[1]*c",
    "[x](y) and [z][w]",
    "_private_ and __dunder__",
    "**not bold**",
    "<https://x.org/a_b_>",
    "{x}_{y}*{z}",
]
_URLS = [
    "https://x/a_(b)",
    "https://en.wikipedia.org/wiki/Pizza_(disambiguation)",
    "https://example.com/__init__/a_b_/c*d*e",
    "https://example.com/?q=__x__&r=**y**",
    "https://example.com/a_(b_(c))_d",
]


def test_markdown_cleaning_never_changes_a_word_inside_code_or_a_url() -> None:
    """Code spans were unwrapped before emphasis was read: `max__pool__size` became
    "maxpoolsize", `__init__` "init", and a link to a URL with parentheses left a stray ")"."""
    for code in _CODE:
        assert _lines(markdown_to_text(f"Set `{code}` first.")) == [f"Set {code} first."], code
        assert f"Set {code} first." in parse("code.md", f"# Notes\n\nSet `{code}` first.\n".encode()).text, code
    assert _lines(markdown_to_text("Quote ``a`b_c_`` here.")) == ["Quote a`b_c_ here."]
    for url in _URLS:
        assert _lines(markdown_to_text(f"[the docs]({url}) say so.")) == ["the docs say so."], url
        assert _lines(markdown_to_text(f"See {url} now.")) == [f"See {url} now."], url
        assert _lines(markdown_to_text(f"See <{url}> now.")) == [f"See {url} now."], url
        assert _lines(markdown_to_text(f"*See {url} now*.")) == [f"See {url} now."], url
    assert _lines(markdown_to_text("*See https://x.org/a_b*, _or https://x.org/c*d_.")) == [
        "See https://x.org/a_b, or https://x.org/c*d."
    ]
    # An identifier in prose is not emphasis either (CommonMark: no "__" inside a word) ...
    assert _lines(markdown_to_text("Raise max__pool__size to 20.")) == ["Raise max__pool__size to 20."]
    # ... while emphasis, links and images around code and URLs still lose their marks.
    text = markdown_to_text("**Use `__init__`** and _[`obj.__dict__`](https://x/a_(b))_, ![a_b](https://i/x_(1).png).")
    assert _lines(text) == ["Use __init__ and obj.__dict__, a_b."]


def test_markdown_code_spans_and_urls_survive_byte_for_byte() -> None:
    """Random identifiers of underscores, stars and brackets, and URLs with parentheses."""
    rng = random.Random(26)
    for _ in range(300):
        code = "".join(rng.choice("ab_*[]().{}") for _ in range(rng.randint(1, 12)))
        assert _lines(markdown_to_text(f"Set `{code}` now.")) == [f"Set {code} now."], code
        path = "".join(rng.choice("ab_*()~-.") for _ in range(rng.randint(1, 12)))
        url = f"https://x.org/{path}"
        assert _lines(markdown_to_text(f"Read {url} now.")) == [f"Read {url} now."], url
