"""A blog owner's own export: static-site Markdown with front matter, saved
HTML pages inside a site's frame, and one folder per post."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kb.ingest.html import html_to_text
from kb.ingest.load import MAX_LISTED_OTHERS, load_folder, parse
from kb.ingest.markdown import draft_setting, front_matter, markdown_to_text
from tests.test_cli import kb

YAML_POST = """---
title: "Syncing stock: the \\"one count\\" rule"
date: 2024-02-10
tags: [inventory, omnichannel]
draft: false
---

When a shop and its website share one stock count, nobody orders online a jacket that sold out in the store.

## What to do

Connect the till and the web shop to one inventory service.
"""

TOML_POST = """+++
title = 'Points that work in every channel'
weight = 3
+++
# Points that work in every channel

A loyalty card that only works in the shop tells online customers that they matter less.
"""

SITE_PAGE = """<!doctype html><html><head><title>Click and collect in one week | Retail Notes</title>
<script>var tracking = 1;</script></head>
<body><header><a href="/">Retail Notes</a><nav><a>Home</a> <a>About</a></nav></header>
<p class="banner">Subscribe to our newsletter!</p>
<main><article><header><h1>Click and collect in one week</h1><time>3 May 2024</time></header>
<p>Click and collect lets a customer buy online and pick the order up in a store.</p>
<p>Start with one store and a shelf near the entrance.</p>
<footer>Tags: stores, logistics</footer></article></main>
<aside><h2>Popular posts</h2><p>How to choose a till</p></aside>
<footer>© 2024 Retail Notes. All rights reserved.</footer></body></html>"""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_yaml_front_matter_gives_the_title_and_its_settings_are_not_text() -> None:
    doc = parse("index.md", YAML_POST.encode())
    assert doc.title == 'Syncing stock: the "one count" rule'
    assert _lines(doc.text)[0] == doc.title
    for setting in ("date:", "2024-02-10", "tags:", "draft", "---"):
        assert setting not in doc.text, setting
    assert "Connect the till and the web shop to one inventory service." in doc.text


def test_toml_front_matter_and_a_heading_that_repeats_the_title_give_it_once() -> None:
    doc = parse("index.md", TOML_POST.encode())
    assert doc.title == "Points that work in every channel"
    assert _lines(doc.text) == [
        "Points that work in every channel",
        "A loyalty card that only works in the shop tells online customers that they matter less.",
    ]


def test_front_matter_is_read_as_yaml_or_toml() -> None:
    """A folded title ("title: >-") was the title ">-", and a comment after a value was part of it."""
    settings, body = front_matter(YAML_POST)
    assert settings["tags"] == ["inventory", "omnichannel"] and settings["draft"] is False
    assert body.lstrip().startswith("When a shop")
    assert front_matter(TOML_POST)[0] == {"title": "Points that work in every channel", "weight": 3}
    folded = "---\ntitle: >-\n  Stock rules\n  for every shop\nsummary: Sold out # not online\ndraft: no\n---\nBody.\n"
    assert front_matter(folded)[0]["summary"] == "Sold out"
    assert _lines(markdown_to_text(folded)) == ["Stock rules for every shop", "Body."]
    assert draft_setting(folded) is None
    # Front matter broken in one line still gives the settings of the others: a draft stays unpublished.
    broken = "---\ntitle: [unclosed\nDraft: yes\n---\n# Heading\n\nBody.\n"
    assert front_matter(broken) == ({"Draft": True}, "# Heading\n\nBody.")
    assert draft_setting(broken) == "Draft: true"


def test_a_post_s_front_matter_is_parsed_once_per_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether a post is a draft, its address, its title and its body each parsed its front
    matter again: four YAML parses a post, 2.2 s of 12 s reading a blog of 400 posts."""
    import yaml

    parsed: list[str] = []
    real = yaml.safe_load

    def counted(text: str) -> object:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(yaml, "safe_load", counted)
    for n in range(3):
        (tmp_path / f"post-{n}.md").write_text(YAML_POST.replace("one count", f"count {n}"), encoding="utf-8")
    loaded = load_folder(tmp_path, 1_000_000)
    assert len(loaded.documents) == 3 and len(parsed) == 3, parsed
    # Each caller gets its own settings: changing them changes no other's.
    settings, _ = front_matter(YAML_POST)
    settings["title"] = "changed"
    assert front_matter(YAML_POST)[0]["title"] == 'Syncing stock: the "one count" rule'


def test_a_rule_without_a_closing_one_is_not_front_matter() -> None:
    text = "---\nA post that opens with a rule, and title: is just a word here.\n"
    assert front_matter(text) == ({}, text)
    assert _lines(markdown_to_text(text)) == ["A post that opens with a rule, and title: is just a word here."]


def test_a_title_that_is_not_text_is_not_the_title() -> None:
    # Broken YAML ("[unclosed") or a list: the article's first line is the title.
    for value in ("[unclosed", "[a, b]", "{x: 1}"):
        doc = parse("index.md", f"---\ntitle: {value}\n---\n# Heading\n\nBody text of the post.\n".encode())
        assert doc.title == "Heading" and _lines(doc.text)[0] == "Heading", value
    # In quotes, a bracket is part of the text.
    quoted = parse("index.md", b'---\ntitle: "[Draft] Stock rules"\n---\nBody text of the post.\n')
    assert quoted.title == "[Draft] Stock rules"


def test_front_matter_without_a_title_is_dropped_whole() -> None:
    assert _lines(markdown_to_text("---\nlayout: post\n---\n# Heading\n\nBody.\n")) == ["Heading", "Body."]


def test_a_saved_page_gives_its_article_without_the_sites_frame() -> None:
    doc = parse("post.html", SITE_PAGE.encode())
    assert doc.title == "Click and collect in one week"
    # The <time> in the article's header is its date, not its text.
    assert _lines(doc.text) == [
        "Click and collect in one week",
        "Click and collect lets a customer buy online and pick the order up in a store.",
        "Start with one store and a shelf near the entrance.",
    ]


def test_a_page_without_an_article_element_keeps_its_body_but_not_sidebars_or_footers() -> None:
    page = (
        "<html><head><title>Stock levels | Shop blog</title></head><body><p>Stock is shared by every channel.</p>"
        "<aside>Archive: May</aside><footer>© Shop blog</footer></body></html>"
    )
    text = html_to_text(page)
    # No <h1>: the <title> is the first line (the cleaner's title drops the site's name).
    assert _lines(text) == ["Stock levels | Shop blog", "Stock is shared by every channel."]
    assert parse("page.html", page.encode()).title == "Stock levels"


def test_an_article_tag_in_a_comment_script_or_empty_main_hides_nothing() -> None:
    for page in (
        "<body><!-- <main> --><script>var t = '<article>';</script><p>Text stays.</p></body>",
        "<body><main></main><p>Text stays.</p></body>",
    ):
        assert _lines(html_to_text(page)) == ["Text stays."], page


def test_a_heading_outside_the_article_still_titles_it() -> None:
    text = html_to_text(
        "<body><header><h1>Returns in any store</h1></header><article><p>Bought online.</p></article></body>"
    )
    assert _lines(text) == ["Returns in any store", "Bought online."]


def _export(root: Path) -> Path:
    """A static site's tree: one folder per post, with its images."""
    posts = root / "content" / "posts"
    (posts / "stock").mkdir(parents=True)
    (posts / "loyalty").mkdir()
    (posts / "stock" / "index.md").write_text(YAML_POST, encoding="utf-8")
    (posts / "loyalty" / "index.md").write_text(TOML_POST, encoding="utf-8")
    for i in range(MAX_LISTED_OTHERS + 2):
        (posts / "stock" / f"photo{i}.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "public").mkdir()
    (root / "public" / "post.html").write_text(SITE_PAGE, encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "notes.md").write_text("# Not a post\n\nRepository internals.\n", encoding="utf-8")
    (root / ".draft.md").write_text("# Hidden\n\nAn unfinished draft.\n", encoding="utf-8")
    return root


def test_posts_in_subfolders_are_loaded_by_their_relative_path(tmp_path: Path) -> None:
    root = _export(tmp_path / "site")
    (root / "public" / "loop").symlink_to(root, target_is_directory=True)
    loaded = load_folder(root, 100_000)
    assert [d.source for d in loaded.documents] == [
        "content/posts/loyalty/index.md",
        "content/posts/stock/index.md",
        "public/post.html",
    ]
    # The photos are one report that counts them all, not one line each.
    assert [(p.files, p.path.startswith(f"{MAX_LISTED_OTHERS + 2} other files")) for p in loaded.problems] == [
        (MAX_LISTED_OTHERS + 2, True)
    ]


@pytest.mark.server  # the CLI as a subprocess
def test_a_blog_export_is_ingested_shown_and_cited_by_path(tmp_path: Path) -> None:
    root = _export(tmp_path / "site")
    data = tmp_path / "kb"
    ingested = kb("ingest", "--quiet", str(root), data_dir=data)
    assert ingested.returncode == 0, ingested.stderr
    assert "3 added" in ingested.stderr and f"{MAX_LISTED_OTHERS + 2} skipped" in ingested.stderr
    assert f"skipped {MAX_LISTED_OTHERS + 2} other files" in ingested.stderr

    shown = kb("show", "content/posts/stock/index.md", data_dir=data)
    assert shown.returncode == 0, shown.stderr
    assert 'Syncing stock: the "one count" rule' in shown.stdout and "tags:" not in shown.stdout

    question = "How do I stop selling online a jacket that already sold out in the store?"
    asked = kb("ask", "--json", question, data_dir=data)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["answered"] is True
    assert answer["citations"][0]["source"] == "content/posts/stock/index.md"


def test_an_unreadable_subfolder_is_reported_and_the_rest_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _export(tmp_path / "site")
    locked = root / "content" / "posts" / "loyalty"
    real_scandir = os.scandir

    def scandir(path: object) -> object:  # the tests run as root, who can read a folder with no permissions
        if Path(str(path)) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    loaded = load_folder(root, 100_000)
    assert [d.source for d in loaded.documents] == ["content/posts/stock/index.md", "public/post.html"]
    assert ("content/posts/loyalty/", "cannot read this folder (Permission denied)") in [
        (p.path, p.reason) for p in loaded.problems
    ]


def test_a_post_inside_an_element_named_as_the_frame_is_still_the_article() -> None:
    # Blogger wraps every post, its comments and the pager in <div class="widget Blog">.
    page = (
        "<html><head><title>Notes: Returns in any store</title></head><body>"
        "<div class='header section'><div class='widget Header'><h1 class='title'>Notes</h1></div></div>"
        "<div class='main section' id='main'><div class='widget Blog' id='Blog1'>"
        "<h2 class='date-header'><span>Monday, 4 March</span></h2>"
        "<div class='post hentry'><h3 class='post-title entry-title'>Returns in any store</h3>"
        "<div class='post-body entry-content'>A parcel bought online goes back at any till.<br /><br />"
        "<h2>Refunds</h2>The refund reaches the card in three days.</div>"
        "<div class='post-footer'>Labels: returns</div></div>"
        "<div class='comments' id='comments'><h4>1 comment:</h4><p class='comment-content'>Great post!</p></div>"
        "</div></div>"
        "<aside><div class='sidebar section'><div class='widget PopularPosts'><h2>Popular Posts</h2>"
        "<div class='item-title'>Click and collect</div><div class='item-snippet'>Buy online, pick up in store.</div>"
        "</div></div></aside></body></html>"
    )
    assert _lines(html_to_text(page)) == [
        "Returns in any store",
        "A parcel bought online goes back at any till.",
        "Refunds",
        "The refund reaches the card in three days.",
    ]


def test_a_related_post_named_as_the_frame_does_not_replace_a_longer_page_text() -> None:
    page = (
        "<body><p>Stock is shared by every channel, so a jacket sold in the store is gone online too.</p>"
        "<div class='related-posts'><article><p>Click and collect.</p></article></div></body>"
    )
    assert _lines(html_to_text(page)) == [
        "Stock is shared by every channel, so a jacket sold in the store is gone online too."
    ]
