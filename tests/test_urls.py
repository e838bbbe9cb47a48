"""A post's public URL, found where the post or its site states it (kb/ingest/urls.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.ingest.dedup import unique_documents
from kb.ingest.load import load_folder
from kb.ingest.urls import public_url, trailing_url

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
HOSTILE = (
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "http://user:secret@blog.example.com/x",
    "https://blog.example.com/a b",
    'https://blog.example.com/"onmouseover="alert(1)',
    "file:///etc/passwd",
    "http:///no-host",
)


def urls(folder: Path, site_url: str | None = None) -> dict[str, str | None]:
    return {d.source: d.url for d in load_folder(folder, 5_000_000, site_url).documents}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


BODY = "A paragraph long enough to be an article of its own, about coffee and its roasting.\n"


def post(front: str) -> str:
    return f"---\n{front}\n---\n\n{BODY}"


def test_the_seed_that_states_its_url_has_it_without_its_tracking_fragment() -> None:
    found = urls(SEEDS)
    assert found["002_8f573ef52dea0fed.txt"] == "http://www.muycanal.com/2015/09/29/negocio-omnicanal-multicanal"
    # The others state none: none is guessed.
    assert [s for s, u in found.items() if u] == ["002_8f573ef52dea0fed.txt"]


def test_the_trailing_line_s_labels_are_read_in_several_languages() -> None:
    text = "Un artículo.\n\nVer más en: https://blog.example.es/2020/cafe/#comments.\n"
    assert trailing_url(text) == "https://blog.example.es/2020/cafe/"
    assert trailing_url("Ein Artikel.\nMehr unter: https://blog.example.de/kaffee\n") == "https://blog.example.de/kaffee"
    assert trailing_url("Um artigo.\nLeia mais em https://blog.example.pt/cafe\n") == "https://blog.example.pt/cafe"
    # A URL in the article's body, with no label, is not its address.
    assert trailing_url("Read https://example.org/other for more.\n") is None
    # Nor is a labelled line far from the end.
    assert trailing_url("See more at: https://example.org/x\n" + "A line.\n" * 60) is None


def test_a_hugo_site_gets_its_permalinks(tmp_path: Path) -> None:
    site = write(
        tmp_path / "blog",
        {
            "hugo.toml": (
                'baseURL = "https://blog.example.com/"\ntitle = "Coffee"\n'
                '[permalinks]\nnotes = "/:year/:month/:slug/"\n'
            ),
            "content/posts/stock/index.md": post("title: Stock"),
            "content/posts/Roasting-Guide.md": post("title: Roasting"),
            "content/posts/renamed.md": post("title: Renamed\nslug: better-name"),
            "content/about.md": post('title: About\nurl: "/about-us/"'),
            "content/notes/grind.md": post("title: Grind size\ndate: 2021-03-04T10:00:00Z\nslug: grind"),
            "content/elsewhere.md": post("title: Elsewhere\nurl: https://other.example.org/post/"),
        },
    )
    found = urls(site)
    assert found == {
        "content/posts/stock/index.md": "https://blog.example.com/posts/stock/",
        "content/posts/Roasting-Guide.md": "https://blog.example.com/posts/roasting-guide/",
        "content/posts/renamed.md": "https://blog.example.com/posts/better-name/",
        "content/about.md": "https://blog.example.com/about-us/",
        "content/notes/grind.md": "https://blog.example.com/2021/03/grind/",
        "content/elsewhere.md": "https://other.example.org/post/",
    }
    # Ingesting the content folder itself reads the site's config beside it; KB_SITE_URL wins over it.
    assert urls(site / "content")["posts/stock/index.md"] == "https://blog.example.com/posts/stock/"
    assert urls(site, "https://www.example.com/blog")["content/posts/stock/index.md"] == (
        "https://www.example.com/blog/posts/stock/"
    )


def test_a_jekyll_site_gets_its_permalinks(tmp_path: Path) -> None:
    site = write(
        tmp_path / "blog",
        {
            "_config.yml": 'title: Coffee\nurl: "https://jekyll.example.com"\nbaseurl: "/blog"\n',
            "_posts/2020-01-02-hello-world.md": post("title: Hello"),
            "_posts/2020-05-06-brewing.md": post("title: Brewing\ncategories: [guides, Coffee]\nslug: brew"),
            "_posts/2021-07-08-fixed.md": post("title: Fixed\npermalink: /fixed/"),
            "about.md": post("title: About"),
            "_drafts/unseen.md": post("title: Unseen"),
        },
    )
    found = urls(site)
    assert found["_posts/2020-01-02-hello-world.md"] == "https://jekyll.example.com/blog/2020/01/02/hello-world.html"
    assert found["_posts/2020-05-06-brewing.md"] == "https://jekyll.example.com/blog/guides/coffee/2020/05/06/brew.html"
    assert found["_posts/2021-07-08-fixed.md"] == "https://jekyll.example.com/blog/fixed/"
    assert found["about.md"] == "https://jekyll.example.com/blog/about.html"
    assert found["_drafts/unseen.md"] is None
    (site / "_config.yml").write_text('url: "https://jekyll.example.com"\npermalink: pretty\n', encoding="utf-8")
    assert urls(site)["_posts/2020-01-02-hello-world.md"] == "https://jekyll.example.com/2020/01/02/hello-world/"


def test_front_matter_is_read_as_yaml_or_toml_for_the_url(tmp_path: Path) -> None:
    """A comment after the URL, or a URL folded onto its own line, left the post without one."""
    folder = write(
        tmp_path / "posts",
        {
            "a.md": post('title: A\nurl: "https://blog.example.com/a/" # moved in 2024'),
            "b.md": post("title: B\nurl: >-\n  https://blog.example.com/b/"),
            "c.md": f"+++\ntitle = 'C'\nurl = 'https://blog.example.com/c/' # the new one\n+++\n{BODY}",
        },
    )
    assert urls(folder) == {
        "a.md": "https://blog.example.com/a/",
        "b.md": "https://blog.example.com/b/",
        "c.md": "https://blog.example.com/c/",
    }


def test_without_a_base_url_a_slug_or_a_path_gives_no_url(tmp_path: Path) -> None:
    folder = write(tmp_path / "posts", {"a.md": post("title: A\nslug: a\nurl: /a/")})
    assert urls(folder) == {"a.md": None}
    # With a site layout and KB_SITE_URL, the generator's rule applies.
    site = write(tmp_path / "site", {"content/posts/a.md": post("title: A")})
    assert urls(site, "https://blog.example.com") == {"content/posts/a.md": "https://blog.example.com/posts/a/"}


def test_a_saved_page_names_itself_in_its_canonical_link_or_og_url(tmp_path: Path) -> None:
    def page(head: str) -> str:
        return f"<html><head>{head}<title>Coffee</title></head><body><article><p>{BODY}</p></article></body></html>"

    folder = write(
        tmp_path / "pages",
        {
            "a.html": page('<link rel="canonical" href="https://blog.example.com/a/"><meta property="og:url" content="https://x.example/">'),
            "b.html": page('<meta property="og:url" content="https://blog.example.com/b/">'),
            "c.html": page('<link rel="canonical" href="javascript:alert(1)"><meta property="og:url" content="https://blog.example.com/c/">'),
            "d.html": page('<link rel="canonical" href="/d/">'),
        },
    )
    assert urls(folder) == {
        "a.html": "https://blog.example.com/a/",
        "b.html": "https://blog.example.com/b/",
        "c.html": "https://blog.example.com/c/",
        "d.html": None,
    }
    assert urls(folder, "https://blog.example.com")["d.html"] == "https://blog.example.com/d/"


def test_sources_toml_maps_a_file_to_its_url_and_is_no_article(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "posts",
        {
            "a.txt": BODY,
            "b.md": post("title: B\nurl: https://blog.example.com/b-from-front-matter/"),
            "c.txt": BODY.replace("coffee", "tea"),
            "sources.toml": (
                '"a.txt" = "https://blog.example.com/a/"\n'
                '"b.md" = "https://blog.example.com/b/"\n'
                '"c.txt" = "javascript:alert(1)"\n'
            ),
        },
    )
    loaded = load_folder(folder, 5_000_000)
    assert {d.source: d.url for d in loaded.documents} == {
        "a.txt": "https://blog.example.com/a/",
        "b.md": "https://blog.example.com/b/",
        "c.txt": None,
    }
    assert [(p.path, p.broken) for p in loaded.problems] == [("sources.toml", True)]
    assert "c.txt" in loaded.problems[0].reason and "not an http(s) address" in loaded.problems[0].reason
    (folder / "sources.toml").write_text('"a.txt" = [unclosed\n', encoding="utf-8")
    problems = load_folder(folder, 5_000_000).problems
    assert [p.path for p in problems] == ["sources.toml"] and "not valid TOML" in problems[0].reason


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_url_is_never_kept(tmp_path: Path, hostile: str) -> None:
    assert public_url(hostile) is None
    assert public_url(hostile, "https://blog.example.com") is None
    folder = write(tmp_path / "posts", {"a.md": post(f"title: A\nurl: '{hostile}'")})
    assert urls(folder) == {"a.md": None}


def test_a_post_without_an_address_takes_its_built_page_s(tmp_path: Path) -> None:
    text = " ".join(f"Roasting note {i}: the beans crack, then darken, then oil." for i in range(12))
    folder = write(
        tmp_path / "site",
        {
            "content/posts/roast/index.md": f"---\ntitle: Roast\n---\n\n{text}\n",
            "public/posts/roast/index.html": (
                '<html><head><link rel="canonical" href="https://blog.example.com/posts/roast/"></head>'
                f"<body><article><h1>Roast</h1><p>{text}</p></article></body></html>"
            ),
        },
    )
    documents, repeats = unique_documents(load_folder(folder, 5_000_000).documents)
    assert [(d.source, d.url) for d in documents] == [
        ("content/posts/roast/index.md", "https://blog.example.com/posts/roast/")
    ]
    assert [p.path for p in repeats] == ["public/posts/roast/index.html"]
