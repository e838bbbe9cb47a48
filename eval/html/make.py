"""Render the eval articles as blog pages, as the main platforms publish them.

    .venv/bin/python eval/html/make.py        # writes eval/html/<set>/*.html and eval/html/<blog>.jsonl

Every article of ``seeds/`` and of the three blogs (``eval/blogs/<name>/``)
becomes one page in one of three themes, rotated across the articles:

- ``wordpress``: a WordPress theme (``entry-content``), a cookie banner, share
  buttons, previous/next post links, two readers' comments and the reply
  form, and a sidebar of widgets: recent posts with their first lines, a tag
  cloud, archives;
- ``blogger``: Blogger's Simple template (``post-body``, the title an
  ``<h3>`` under the blog's ``<h1>``), its labels, two comments, and its
  sidebar (popular posts with their snippets, labels, the profile);
- ``hugo``: a Hugo theme with semantic ``<article>``, ``<nav>`` and
  ``<aside>``: a table of contents, tags, previous/next links, share buttons
  and a "related posts" block of cards (the other posts' titles and first
  lines).

The article's own text (title, headings, paragraphs, lists) is the source's,
word for word: a Markdown post is rendered by markdown-it-py (CommonMark and
tables) as a static site generator would; a plain-text seed is rendered block
by block as its loader reads it (``kb.ingest.chunk.blocks``: headings,
list items, paragraphs). The frame around it (menus, widgets, comments) is in
the article's language. The output is deterministic: run it again and git
sees no change.

The pages are committed, so the set stays fixed when the loader changes (a
plain-text seed's blocks are read by it); run this again only to change the set on purpose.

The blogs' question sets name their gold articles by file ("grinders.md");
``eval/html/<blog>.jsonl`` is the same set naming the pages ("grinders.html").
The seeds' sets name articles by their number ("002") and serve as they are.
"""

# ruff: noqa: E501  (the pages' markup, line for line as the platforms write it)
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from kb.ingest.chunk import blocks
from kb.ingest.load import load_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "eval" / "html"
BLOGS = ("coffee", "garden", "running")
THEMES = ("wordpress", "blogger", "hugo")
SITES = {
    "seeds": ("Omnicanal Hoy", "omnicanalhoy.example"),
    "coffee": ("The Slow Cup", "slowcup.example"),
    "garden": ("Huerto en el Balcón", "huertobalcon.example"),
    "running": ("Mein erster Marathon", "ersterlauf.example"),
}

# The frame's words in each article's language (data: frame.json beside this file).
FRAME: dict[str, dict[str, str]] = json.loads((Path(__file__).with_name("frame.json")).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Article:
    stem: str
    language: str
    title: str
    body: str  # the article's HTML, without its title
    headings: tuple[str, ...]  # its headings' text, for a table of contents
    first_line: str  # its first paragraph's opening, for the other pages' widgets
    date: tuple[int, int, int]
    tags: tuple[str, ...]


_MD = MarkdownIt("commonmark", {"html": True}).enable("table")
_BULLET = re.compile(r"^\s*(?:[•\-*–·▪◦])\s+")
_NUMBER = re.compile(r"^\s*(\d{1,2})[.)]\s+")


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _excerpt(text: str, limit: int = 160) -> str:
    """A widget's excerpt: the paragraph's opening, cut at a word, with "…" (as WordPress writes it)."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0] + " […]"


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.casefold()).strip("-")[:60] or "section"


def _from_markdown(path: Path) -> tuple[str, str, list[str], str]:
    """A Markdown post as a static site generator renders it: its "# " title apart, the rest as HTML."""
    source = path.read_text(encoding="utf-8")
    tokens = _MD.parse(source)
    title = ""
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1":
            title = tokens[i + 1].content
            source = source.replace(token.markup + " " + title + "\n", "", 1)
            break
    body = _MD.render(source)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag != "h1"]
    first = next(tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "paragraph_open")
    body = re.sub(
        r"<h([2-6])>(.*?)</h\1>",
        lambda m: f'<h{m.group(1)} id="{_slug(html.unescape(re.sub("<[^>]+>", "", m.group(2))))}">{m.group(2)}</h{m.group(1)}>',
        body,
    )
    return title, body, headings, first


def _from_text(path: Path) -> tuple[str, str, list[str], str]:
    """A plain-text seed block by block, as its loader reads it: the title, then headings
    (``<h2>``), list items (``<ul>``/``<ol>``), paragraphs and listings (``<pre>``)."""
    doc = load_file(path, 10_000_000, path.name)
    text = doc.text
    found = blocks(text)
    parts: list[str] = []
    headings: list[str] = []
    first = ""
    items: list[str] = []
    ordered = False

    def close_list() -> None:
        if items:
            tag = "ol" if ordered else "ul"
            parts.append(f"<{tag}>\n" + "".join(f"<li>{item}</li>\n" for item in items) + f"</{tag}>")
            items.clear()

    title = doc.title
    for n, block in enumerate(found):
        line = " ".join(text[block.start : block.end].split())
        if n == 0 and line == title:
            continue
        if block.kind == "bullet" and (_BULLET.match(line) or _NUMBER.match(line)):
            is_number = _NUMBER.match(line) is not None
            if items and is_number != ordered:
                close_list()
            ordered = is_number
            items.append(_esc(_BULLET.sub("", line) if not is_number else _NUMBER.sub("", line)))
            continue
        close_list()
        if block.kind == "heading":
            headings.append(line)
            parts.append(f'<h2 id="{_slug(line)}">{_esc(line)}</h2>')
        elif block.kind == "listing":
            parts.append("<pre>" + _esc(text[block.start : block.end]) + "</pre>")
        else:
            first = first or line
            parts.append(f"<p>{_esc(line)}</p>")
    close_list()
    return title, "\n".join(parts) + "\n", headings, first


def _articles(name: str, paths: list[Path]) -> list[Article]:
    found = []
    for n, path in enumerate(paths):
        title, body, headings, first = _from_markdown(path) if path.suffix == ".md" else _from_text(path)
        language = load_file(path, 10_000_000, path.name).language
        language = language if language in FRAME else "en"
        words = [w for w in re.findall(r"\w{6,}", title.casefold())][:3]
        found.append(
            Article(
                stem=path.stem,
                language=language,
                title=title,
                body=body,
                headings=tuple(headings),
                first_line=_excerpt(first),
                date=(2023, 1 + (3 * n + len(name)) % 12, 1 + (7 * n) % 28),
                tags=tuple(words) or (name,),
            )
        )
    return found


def _date(article: Article) -> str:
    year, month, day = article.date
    return f"{day} {FRAME[article.language]['months'].split()[month - 1]} {year}"


def _iso(article: Article) -> str:
    year, month, day = article.date
    return f"{year:04d}-{month:02d}-{day:02d}"


def _others(article: Article, every: list[Article]) -> list[Article]:
    return [other for other in every if other.stem != article.stem]


def wordpress(article: Article, every: list[Article], site: tuple[str, str]) -> str:
    w = FRAME[article.language]
    name, host = site
    others = _others(article, every)
    i = every.index(article)
    prev_, next_ = every[i - 1], every[(i + 1) % len(every)]
    recent = "\n".join(
        f'<li><a href="https://{host}/{o.stem}/">{_esc(o.title)}</a>'
        f'<span class="post-date">{_date(o)}</span><div class="rpwe-summary">{_esc(o.first_line)}</div></li>'
        for o in others[:5]
    )
    tags = " ".join(
        f'<a href="https://{host}/tag/{t}/" class="tag-cloud-link tag-link-{k}" style="font-size: {8 + 3 * k}pt;">{t}</a>'
        for k, t in enumerate(sorted({t for o in every for t in o.tags})[:12])
    )
    return f"""<!DOCTYPE html>
<html lang="{article.language}" dir="{"rtl" if article.language == "ar" else "ltr"}">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(article.title)} &#8211; {_esc(name)}</title>
<link rel="canonical" href="https://{host}/{article.stem}/">
<meta property="og:site_name" content="{_esc(name)}">
<meta property="og:title" content="{_esc(article.title)}">
<link rel="stylesheet" id="twentyseventeen-style-css" href="https://{host}/wp-content/themes/twentyseventeen/style.css?ver=20230328" media="all">
<script src="https://{host}/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
</head>
<body class="post-template-default single single-post postid-{100 + i} single-format-standard has-sidebar">
<div id="page" class="site">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<header id="masthead" class="site-header" role="banner">
<div class="site-branding"><div class="wrap">
<p class="site-title"><a href="https://{host}/" rel="home">{_esc(name)}</a></p>
<p class="site-description">{_esc(w["tagline"])}</p>
</div></div>
<div class="navigation-top"><div class="wrap">
<nav id="site-navigation" class="main-navigation" role="navigation" aria-label="Top Menu">
<button class="menu-toggle" aria-controls="top-menu" aria-expanded="false">Menu</button>
<div class="menu-main-container"><ul id="top-menu" class="menu">
<li class="menu-item"><a href="https://{host}/">{w["home"]}</a></li>
<li class="menu-item"><a href="https://{host}/blog/">{w["blog"]}</a></li>
<li class="menu-item"><a href="https://{host}/about/">{w["about"]}</a></li>
<li class="menu-item"><a href="https://{host}/contact/">{w["contact"]}</a></li>
</ul></div>
</nav>
</div></div>
</header>
<div class="site-content-contain">
<div id="content" class="site-content">
<div class="wrap">
<div id="primary" class="content-area">
<main id="main" class="site-main" role="main">
<article id="post-{100 + i}" class="post-{100 + i} post type-post status-publish format-standard hentry category-blog {" ".join("tag-" + t for t in article.tags)}">
<header class="entry-header">
<div class="entry-meta"><span class="screen-reader-text">{w["posted"]}</span> <a href="https://{host}/{article.stem}/" rel="bookmark"><time class="entry-date published" datetime="{_iso(article)}T09:00:00+00:00">{_date(article)}</time></a><span class="byline"> {w["by"]} <span class="author vcard"><a class="url fn n" href="https://{host}/author/admin/">{_esc(w["author"])}</a></span></span></div>
<h1 class="entry-title">{_esc(article.title)}</h1>
</header>
<div class="entry-content">
{article.body}<div class="sharedaddy sd-sharing-enabled"><div class="robots-nocontent sd-block sd-social sd-social-icon-text sd-sharing">
<h3 class="sd-title">{w["share"]}</h3>
<div class="sd-content"><ul>
<li class="share-twitter"><a rel="nofollow noopener noreferrer" class="share-twitter sd-button share-icon" href="https://{host}/{article.stem}/?share=twitter" target="_blank"><span>Twitter</span></a></li>
<li class="share-facebook"><a rel="nofollow noopener noreferrer" class="share-facebook sd-button share-icon" href="https://{host}/{article.stem}/?share=facebook" target="_blank"><span>Facebook</span></a></li>
<li class="share-end"></li>
</ul></div></div></div>
</div>
<footer class="entry-footer"><span class="cat-tags-links"><span class="tags-links"><span class="screen-reader-text">{w["tags"]}</span>{", ".join(f'<a href="https://{host}/tag/{t}/" rel="tag">{t}</a>' for t in article.tags)}</span></span></footer>
</article>
<nav class="navigation post-navigation" aria-label="Posts">
<h2 class="screen-reader-text">Post navigation</h2>
<div class="nav-links"><div class="nav-previous"><a href="https://{host}/{prev_.stem}/" rel="prev"><span class="screen-reader-text">{w["prev"]}</span><span aria-hidden="true" class="nav-subtitle">{w["prev"]}</span> <span class="nav-title">{_esc(prev_.title)}</span></a></div><div class="nav-next"><a href="https://{host}/{next_.stem}/" rel="next"><span class="screen-reader-text">{w["next"]}</span><span aria-hidden="true" class="nav-subtitle">{w["next"]}</span> <span class="nav-title">{_esc(next_.title)}</span></a></div></div>
</nav>
<div id="comments" class="comments-area">
<h2 class="comments-title">{w["comments"]} &ldquo;{_esc(article.title)}&rdquo;</h2>
<ol class="comment-list">
<li id="comment-{11 + i}" class="comment even thread-even depth-1">
<article id="div-comment-{11 + i}" class="comment-body">
<footer class="comment-meta"><div class="comment-author vcard"><b class="fn">{w["c1by"]}</b> <span class="says">says:</span></div>
<div class="comment-metadata"><a href="https://{host}/{article.stem}/#comment-{11 + i}"><time datetime="{_iso(article)}T18:12:00+00:00">{_date(article)}</time></a></div></footer>
<div class="comment-content"><p>{_esc(w["c1"])}</p></div>
<div class="reply"><a rel="nofollow" class="comment-reply-link" href="#comment-{11 + i}">{w["reply"]}</a></div>
</article>
</li>
<li id="comment-{40 + i}" class="comment odd alt thread-odd depth-1">
<article id="div-comment-{40 + i}" class="comment-body">
<footer class="comment-meta"><div class="comment-author vcard"><b class="fn">{w["c2by"]}</b> <span class="says">says:</span></div>
<div class="comment-metadata"><a href="https://{host}/{article.stem}/#comment-{40 + i}"><time datetime="{_iso(article)}T21:40:00+00:00">{_date(article)}</time></a></div></footer>
<div class="comment-content"><p>{_esc(w["c2"])}</p></div>
<div class="reply"><a rel="nofollow" class="comment-reply-link" href="#comment-{40 + i}">{w["reply"]}</a></div>
</article>
</li>
</ol>
<div id="respond" class="comment-respond">
<h3 id="reply-title" class="comment-reply-title">{w["leave"]}</h3>
<form action="https://{host}/wp-comments-post.php" method="post" id="commentform" class="comment-form">
<p class="comment-notes"><span id="email-notes">{_esc(w["required"])}</span></p>
<p class="comment-form-comment"><label for="comment">{w["comment"]}</label> <textarea id="comment" name="comment" cols="45" rows="8" required></textarea></p>
<p class="comment-form-author"><label for="author">{w["name"]} *</label> <input id="author" name="author" type="text" size="30" required></p>
<p class="comment-form-email"><label for="email">{w["email"]} *</label> <input id="email" name="email" type="email" size="30" required></p>
<p class="form-submit"><input name="submit" type="submit" id="submit" class="submit" value="{w["submit"]}"></p>
</form>
</div>
</div>
</main>
</div>
<aside id="secondary" class="widget-area" role="complementary" aria-label="Blog Sidebar">
<section id="search-2" class="widget widget_search"><form role="search" method="get" class="search-form" action="https://{host}/"><label><span class="screen-reader-text">{w["search"]}</span><input type="search" class="search-field" placeholder="{w["search"]} &hellip;" name="s"></label><button type="submit" class="search-submit">{w["search"]}</button></form></section>
<section id="rpwe_widget-2" class="widget rpwe_widget recent-posts-extended"><h2 class="widget-title">{w["recent"]}</h2><div class="rpwe-block"><ul class="rpwe-ul">
{recent}
</ul></div></section>
<section id="tag_cloud-2" class="widget widget_tag_cloud"><h2 class="widget-title">{w["tags"]}</h2><div class="tagcloud">{tags}</div></section>
<section id="archives-2" class="widget widget_archive"><h2 class="widget-title">{w["archives"]}</h2><ul>
<li><a href="https://{host}/2023/06/">{FRAME[article.language]["months"].split()[5]} 2023</a></li>
<li><a href="https://{host}/2023/03/">{FRAME[article.language]["months"].split()[2]} 2023</a></li>
</ul></section>
</aside>
</div>
</div>
<footer id="colophon" class="site-footer" role="contentinfo">
<div class="wrap"><div class="site-info"><a class="privacy-policy-link" href="https://{host}/privacy/">Privacy</a><span role="separator" aria-hidden="true"></span>
<a href="https://wordpress.org/" class="imprint">{w["footer"]}</a></div></div>
</footer>
</div>
</div>
<div id="cookie-notice" role="dialog" class="cookie-revoke-hidden cn-position-bottom" aria-label="Cookie Notice"><div class="cookie-notice-container"><span id="cn-notice-text" class="cn-text-container">{_esc(w["cookie"])}</span><span id="cn-notice-buttons" class="cn-buttons-container"><a href="#" id="cn-accept-cookie" data-cookie-set="accept" class="cn-set-cookie cn-button">{w["accept"]}</a><a href="https://{host}/privacy/" target="_blank" id="cn-more-info" class="cn-more-info cn-button">{w["more"]}</a></span></div></div>
<script src="https://{host}/wp-content/themes/twentyseventeen/assets/js/global.js?ver=20211130" id="twentyseventeen-global-js"></script>
</body>
</html>
"""


def blogger(article: Article, every: list[Article], site: tuple[str, str]) -> str:
    w = FRAME[article.language]
    name, host = site
    others = _others(article, every)
    i = every.index(article)
    post_id = 7021334455667780000 + i
    # Blogger's editor writes paragraphs as text with line breaks between them, inside divs.
    body = re.sub(r"<p>(.*?)</p>\n?", r"\1<br />\n<br />\n", article.body, flags=re.DOTALL)
    popular = "\n".join(
        f"""<li><div class="item-content"><div class="item-title"><a href="https://{host}/2023/{o.date[1]:02d}/{o.stem}.html">{_esc(o.title)}</a></div>
<div class="item-snippet">{_esc(o.first_line)}</div></div><div style="clear: both;"></div></li>"""
        for o in others[:4]
    )
    labels = "\n".join(
        f'<li><a dir="ltr" href="https://{host}/search/label/{t}">{t}</a><span dir="ltr">(1)</span></li>'
        for t in sorted({t for o in every for t in o.tags})[:8]
    )
    return f"""<!DOCTYPE html>
<html class="v2" dir="{"rtl" if article.language == "ar" else "ltr"}" lang="{article.language}" xmlns="http://www.w3.org/1999/xhtml" xmlns:b="http://www.google.com/2005/gml/b" xmlns:data="http://www.google.com/2005/gml/data" xmlns:expr="http://www.google.com/2005/gml/expr">
<head>
<meta content="width=1100" name="viewport">
<meta content="text/html; charset=UTF-8" http-equiv="Content-Type">
<meta content="blogger" name="generator">
<link href="https://{host}/2023/{article.date[1]:02d}/{article.stem}.html" rel="canonical">
<meta content="https://{host}/2023/{article.date[1]:02d}/{article.stem}.html" property="og:url">
<meta content="{_esc(article.title)}" property="og:title">
<title>{_esc(name)}: {_esc(article.title)}</title>
<style type="text/css">body {{ font: normal normal 12px Arial, Tahoma, Helvetica, FreeSans, sans-serif; }} .post-body {{ line-height: 1.4; }}</style>
<script type="text/javascript">window._gaq = window._gaq || [];</script>
</head>
<body class="loading variant-simplysimple">
<div class="navbar section" id="navbar" name="Navbar"><div class="widget Navbar" data-version="1" id="Navbar1"><script type="text/javascript">function setAttributeOnload(object, attribute, val) {{}}</script><div id="navbar-iframe-container"></div></div></div>
<div class="body-fauxcolumns"><div class="fauxcolumn-outer body-fauxcolumn-outer"><div class="cap-top"><div class="cap-left"></div><div class="cap-right"></div></div></div></div>
<div class="content"><div class="content-outer"><div class="content-inner">
<header><div class="header-outer"><div class="header-inner">
<div class="header section" id="header" name="Cabecera"><div class="widget Header" data-version="1" id="Header1">
<div id="header-inner"><div class="titlewrapper">
<h1 class="title"><a href="https://{host}/">{_esc(name)}</a></h1>
</div><div class="descriptionwrapper"><p class="description"><span>{_esc(w["tagline"])}</span></p></div></div>
</div></div>
</div></div></header>
<div class="tabs-outer"><div class="tabs-inner"><div class="tabs section" id="crosscol" name="Cross-Column"><div class="widget PageList" data-version="1" id="PageList1">
<div class="widget-content"><ul>
<li><a href="https://{host}/">{w["home"]}</a></li>
<li><a href="https://{host}/p/about.html">{w["about"]}</a></li>
<li><a href="https://{host}/p/contact.html">{w["contact"]}</a></li>
</ul><div class="clear"></div></div></div></div></div></div>
<div class="main-outer"><div class="main-inner columns-2">
<div class="columns-inner">
<div class="column-center-outer"><div class="column-center-inner">
<div class="main section" id="main" name="Principal"><div class="widget Blog" data-version="1" id="Blog1">
<div class="blog-posts hfeed">
<div class="date-outer">
<h2 class="date-header"><span>{_date(article)}</span></h2>
<div class="date-posts">
<div class="post-outer">
<div class="post hentry uncustomized-post-template" itemprop="blogPost" itemscope="itemscope" itemtype="http://schema.org/BlogPosting">
<meta content="{post_id}" itemprop="postId">
<a name="{post_id}"></a>
<h3 class="post-title entry-title" itemprop="name">
{_esc(article.title)}
</h3>
<div class="post-header"><div class="post-header-line-1"></div></div>
<div class="post-body entry-content" id="post-body-{post_id}" itemprop="description articleBody">
<div dir="{"rtl" if article.language == "ar" else "ltr"}" style="text-align: left;" trbidi="on">
{body}</div>
<div style="clear: both;"></div>
</div>
<div class="post-footer">
<div class="post-footer-line post-footer-line-1">
<span class="post-author vcard">{w["by"]} <span class="fn" itemprop="author" itemscope="itemscope" itemtype="http://schema.org/Person"><span itemprop="name">{_esc(w["author"])}</span></span></span>
<span class="post-timestamp"><a class="timestamp-link" href="https://{host}/2023/{article.date[1]:02d}/{article.stem}.html" rel="bookmark" title="permanent link"><abbr class="published" itemprop="datePublished" title="{_iso(article)}T09:00:00+01:00">09:00</abbr></a></span>
<span class="post-comment-link"></span>
</div>
<div class="post-footer-line post-footer-line-2"><span class="post-labels">{w["labels"]}:
{", ".join(f'<a href="https://{host}/search/label/{t}" rel="tag">{t}</a>' for t in article.tags)}
</span></div>
<div class="post-share-buttons goog-inline-block">
<a class="goog-inline-block share-button sb-email" href="https://www.blogger.com/share-post.g?blogID=1&amp;postID={post_id}&amp;target=email" target="_blank" title="Email This"><span class="share-button-link-text">Email This</span></a><a class="goog-inline-block share-button sb-blog" href="https://www.blogger.com/share-post.g?blogID=1&amp;postID={post_id}&amp;target=blog" target="_blank" title="BlogThis!"><span class="share-button-link-text">BlogThis!</span></a><a class="goog-inline-block share-button sb-twitter" href="https://www.blogger.com/share-post.g?blogID=1&amp;postID={post_id}&amp;target=twitter" target="_blank" title="Share to X"><span class="share-button-link-text">Share to X</span></a><a class="goog-inline-block share-button sb-facebook" href="https://www.blogger.com/share-post.g?blogID=1&amp;postID={post_id}&amp;target=facebook" target="_blank" title="Share to Facebook"><span class="share-button-link-text">Share to Facebook</span></a>
</div>
</div>
</div>
<div class="comments" id="comments">
<a name="comments"></a>
<h4>2 {w["comment"].lower()}s:</h4>
<div class="comments-content">
<div class="comment-thread"><ol>
<li class="comment" id="c{post_id + 1}"><div class="avatar-image-container"><img src="https://resources.blogblog.com/img/blank.gif" alt=""></div><div class="comment-block"><div class="comment-header"><cite class="user">{w["c1by"]}</cite><span class="icon user"></span><span class="datetime secondary-text"><a rel="nofollow" href="https://{host}/2023/{article.date[1]:02d}/{article.stem}.html?showComment=1#c{post_id + 1}">{_date(article)}, 18:12</a></span></div>
<p class="comment-content">{_esc(w["c1"])}</p><span class="comment-actions secondary-text"><a class="comment-reply" target="_self">{w["reply"]}</a></span></div></li>
<li class="comment" id="c{post_id + 2}"><div class="avatar-image-container"><img src="https://resources.blogblog.com/img/blank.gif" alt=""></div><div class="comment-block"><div class="comment-header"><cite class="user">{w["c2by"]}</cite><span class="icon user"></span><span class="datetime secondary-text"><a rel="nofollow" href="https://{host}/2023/{article.date[1]:02d}/{article.stem}.html?showComment=1#c{post_id + 2}">{_date(article)}, 21:40</a></span></div>
<p class="comment-content">{_esc(w["c2"])}</p><span class="comment-actions secondary-text"><a class="comment-reply" target="_self">{w["reply"]}</a></span></div></li>
</ol></div>
</div>
<p class="comment-footer"><div class="comment-form"><a name="comment-form"></a><h4 id="comment-post-message">{w["leave"]}</h4><p></p><a href="https://www.blogger.com/comment/frame/1?po={post_id}" id="comment-editor-src"></a><iframe allowtransparency="true" class="blogger-iframe-colorize blogger-comment-from-post" frameborder="0" height="410px" id="comment-editor" name="comment-editor" src="" width="100%"></iframe></div></p>
</div>
</div>
</div>
</div>
</div>
<div class="blog-pager" id="blog-pager">
<span id="blog-pager-newer-link"><a class="blog-pager-newer-link" href="https://{host}/2023/{every[(i + 1) % len(every)].date[1]:02d}/{every[(i + 1) % len(every)].stem}.html" id="Blog1_blog-pager-newer-link" title="{w["newer"]}">{w["newer"]}</a></span>
<span id="blog-pager-older-link"><a class="blog-pager-older-link" href="https://{host}/2023/{every[i - 1].date[1]:02d}/{every[i - 1].stem}.html" id="Blog1_blog-pager-older-link" title="{w["older"]}">{w["older"]}</a></span>
<a class="home-link" href="https://{host}/">{w["home"]}</a>
</div>
<div class="clear"></div>
<div class="post-feeds"><div class="feed-links">{w["subscribe"]}</div></div>
</div></div>
</div></div>
<div class="column-right-outer"><div class="column-right-inner">
<aside>
<div class="sidebar section" id="sidebar-right-1"><div class="widget PopularPosts" data-version="1" id="PopularPosts1">
<h2>{w["popular"]}</h2>
<div class="widget-content popular-posts"><ul>
{popular}
</ul><div class="clear"></div></div>
</div><div class="widget Label" data-version="1" id="Label1">
<h2>{w["labels"]}</h2>
<div class="widget-content list-label-widget-content"><ul>
{labels}
</ul><div class="clear"></div></div>
</div><div class="widget Profile" data-version="1" id="Profile1">
<h2>{w["profile"]}</h2>
<div class="widget-content"><dl class="profile-datablock"><dt class="profile-data"><a class="profile-name-link g-profile" href="https://www.blogger.com/profile/1" rel="author">{_esc(w["author"])}</a></dt></dl>
<a class="profile-link" href="https://www.blogger.com/profile/1" rel="author">View my complete profile</a><div class="clear"></div></div>
</div></div>
</aside>
</div></div>
</div>
<div style="clear: both"></div>
</div></div>
<footer><div class="footer-outer"><div class="footer-inner">
<div class="foot section" id="footer-3" name="Footer"><div class="widget Attribution" data-version="1" id="Attribution1"><div class="widget-content" style="text-align: center;">
{w["views"]}.
</div><div class="clear"></div></div></div>
</div></div></footer>
</div></div></div>
<script src="https://www.blogger.com/static/v1/widgets/2975350028-widgets.js" type="text/javascript"></script>
<script type="text/javascript">window['__wavt'] = 'AOuZoY4';_WidgetManager._Init('//www.blogger.com/rearrange?blogID=1');</script>
</body>
</html>
"""


def hugo(article: Article, every: list[Article], site: tuple[str, str]) -> str:
    w = FRAME[article.language]
    name, host = site
    others = _others(article, every)
    i = every.index(article)
    prev_, next_ = every[i - 1], every[(i + 1) % len(every)]
    toc = "\n".join(f'<li><a href="#{_slug(h)}">{_esc(h)}</a></li>' for h in article.headings)
    related = "\n".join(
        f"""<article class="post-card">
<a class="post-card-link" href="https://{host}/posts/{o.stem}/">
<header class="post-card-header"><h3 class="post-card-title">{_esc(o.title)}</h3></header>
<section class="post-card-summary"><p>{_esc(o.first_line)}</p></section>
<footer class="post-card-footer"><time datetime="{_iso(o)}">{_date(o)}</time></footer>
</a>
</article>"""
        for o in others[:3]
    )
    minutes = max(1, len(re.sub(r"<[^>]+>", " ", article.body).split()) // 200)
    return f"""<!doctype html>
<html lang="{article.language}" dir="{"rtl" if article.language == "ar" else "ltr"}">
<head>
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1, shrink-to-fit=no">
<meta name="generator" content="Hugo 0.121.1">
<title>{_esc(article.title)} | {_esc(name)}</title>
<meta name="description" content="{_esc(article.first_line)}">
<link rel="canonical" href="https://{host}/posts/{article.stem}/">
<meta property="og:title" content="{_esc(article.title)}">
<meta property="og:type" content="article">
<meta property="og:url" content="https://{host}/posts/{article.stem}/">
<meta property="article:published_time" content="{_iso(article)}T08:00:00+00:00">
<link crossorigin="anonymous" href="/assets/css/stylesheet.min.css" rel="preload stylesheet" as="style">
<script type="application/ld+json">{json.dumps({"@context": "https://schema.org", "@type": "BlogPosting", "headline": article.title, "datePublished": _iso(article), "author": {"@type": "Person", "name": w["author"]}}, ensure_ascii=False)}</script>
</head>
<body class="single-post" id="top">
<header class="site-header">
<nav class="nav" aria-label="{w["home"]}">
<div class="logo"><a href="https://{host}/" accesskey="h" title="{_esc(name)} (Alt + H)">{_esc(name)}</a>
<button id="theme-toggle" accesskey="t" title="(Alt + T)"><svg id="moon" xmlns="http://www.w3.org/2000/svg" width="24" height="18" viewBox="0 0 24 24"><path d="M21 12.79A9 9 0 1 1 11.21 3 7 7 0 0 0 21 12.79z"></path></svg></button></div>
<ul id="menu">
<li><a href="https://{host}/posts/" title="{w["blog"]}"><span>{w["blog"]}</span></a></li>
<li><a href="https://{host}/tags/" title="{w["tags"]}"><span>{w["tags"]}</span></a></li>
<li><a href="https://{host}/about/" title="{w["about"]}"><span>{w["about"]}</span></a></li>
<li><a href="https://{host}/search/" title="{w["search"]} (Alt + /)" accesskey="/"><span>{w["search"]}</span></a></li>
</ul>
</nav>
</header>
<main class="main">
<article class="post-single">
<header class="post-header">
<div class="breadcrumbs"><a href="https://{host}/">{w["home"]}</a>&nbsp;»&nbsp;<a href="https://{host}/posts/">{w["blog"]}</a></div>
<h1 class="post-title">{_esc(article.title)}</h1>
<div class="post-meta"><span title="{_iso(article)} 08:00:00 +0000 UTC">{_date(article)}</span>&nbsp;·&nbsp;{minutes} {w["read"]}&nbsp;·&nbsp;{_esc(w["author"])}</div>
</header>
<aside class="toc">
<details open>
<summary accesskey="c" title="(Alt + C)"><span class="details">{w["toc"]}</span></summary>
<div class="inner"><nav id="TableOfContents"><ul>
{toc}
</ul></nav></div>
</details>
</aside>
<div class="post-content">{article.body}</div>
<footer class="post-footer">
<ul class="post-tags">
{"".join(f'<li><a href="https://{host}/tags/{t}/">{t}</a></li>' for t in article.tags)}
</ul>
<nav class="paginav">
<a class="prev" href="https://{host}/posts/{prev_.stem}/"><span class="title">« {w["prev"]}</span><br><span>{_esc(prev_.title)}</span></a>
<a class="next" href="https://{host}/posts/{next_.stem}/"><span class="title">{w["next"]} »</span><br><span>{_esc(next_.title)}</span></a>
</nav>
<div class="share-buttons">
<a target="_blank" rel="noopener noreferrer" aria-label="share on x" href="https://x.com/intent/tweet/?url=https%3a%2f%2f{host}%2fposts%2f{article.stem}%2f"><svg viewBox="0 0 512 512" height="30px" width="30px"><path d="M512 62.554V449.446"></path></svg></a>
<a target="_blank" rel="noopener noreferrer" aria-label="share on linkedin" href="https://www.linkedin.com/shareArticle?mini=true&amp;url=https%3a%2f%2f{host}%2fposts%2f{article.stem}%2f"><svg viewBox="0 0 512 512" height="30px" width="30px"><path d="M449.446 0C483.971"></path></svg></a>
</div>
</footer>
</article>
<section class="related">
<h2 class="related-title">{w["related"]}</h2>
<div class="post-cards">
{related}
</div>
</section>
</main>
<footer class="footer">
<span>&copy; 2023 <a href="https://{host}/">{_esc(name)}</a></span> · <span>Powered by <a href="https://gohugo.io/" rel="noopener noreferrer" target="_blank">Hugo</a> &amp; <a href="https://github.com/adityatelange/hugo-PaperMod/" rel="noopener" target="_blank">PaperMod</a></span>
</footer>
<a href="#top" aria-label="go to top" title="Go to Top (Alt + G)" class="top-link" id="top-link" accesskey="g"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 12 6" fill="currentColor"><path d="M12 6H0l6-6z"></path></svg></a>
<script>let menu = document.getElementById('menu'); if (menu) {{ menu.scrollLeft = localStorage.getItem("menu-scroll-position"); }}</script>
</body>
</html>
"""


RENDER = {"wordpress": wordpress, "blogger": blogger, "hugo": hugo}


def theme_of(n: int) -> str:
    """The theme of a set's ``n``-th article (in file order)."""
    return THEMES[n % len(THEMES)]


def sources() -> dict[str, list[Path]]:
    found = {"seeds": sorted((ROOT / "seeds").glob("*.txt"))}
    for blog in BLOGS:
        found[blog] = sorted((ROOT / "eval" / "blogs" / blog).glob("*.md"))
    return found


def build() -> dict[str, dict[str, str]]:
    """Every set's pages: {set: {file name: page}}."""
    pages: dict[str, dict[str, str]] = {}
    for name, paths in sources().items():
        every = _articles(name, paths)
        pages[name] = {
            f"{article.stem}.html": RENDER[theme_of(n)](article, every, SITES[name]) for n, article in enumerate(every)
        }
    return pages


def main() -> None:
    for name, pages in build().items():
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.html"):
            if old.name not in pages:
                old.unlink()
        for file, page in pages.items():
            (folder / file).write_text(page, encoding="utf-8")
    for blog in BLOGS:
        lines = []
        for line in (ROOT / "eval" / "blogs" / f"{blog}.jsonl").read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            for gold in item.get("gold", []):
                gold["seed"] = re.sub(r"\.md$", ".html", gold["seed"])
            lines.append(json.dumps(item, ensure_ascii=False))
        (OUT / f"{blog}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
