"""HTML pages to text: the article's own text, block by block, without the site's frame.

Like cleaning, it drops what is not the article and keeps the article's words
as written; see ``_TextExtractor`` for what counts as the site's frame.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import ClassVar

from kb.ingest.clean import PREFORMATTED

# What a page's elements say they are, by their class or id ("post-meta",
# "cookie-notice", "sharedaddy"): the article's body, or the site's frame
# around it. A name is matched whole, with at most a prefix such as "post-" or
# "site-" and a suffix such as "-box", so that a post's own classes
# ("tag-related", "category-menu") never hide it.
_CONTAINER_NAMES = frozenset(
    "post-body postbody post-content entry-content entry-body article-body article-content articlebody "
    "story-body post-entry".split()
)
_NOISE_NAME = re.compile(
    r"""^(?:(?:post|entry|article|site|blog|page|single|wp|jp|main)[-_]?)?
    (?:cookies?|cookie[-_]?(?:banner|notice|consent|law|policy)|consent|gdpr
      |share|shares|sharing|sharedaddy|social|social[-_]?(?:share|sharing|links|icons|media)
      |related|related[-_]?(?:posts?|articles?|stories|content)|yarpp(?:[-_]related)?
      |comments?|comment[-_]?(?:list|area|form|section|respond)|respond|disqus(?:[-_]?thread)?
      |sidebar|widget[-_]?area|widgets?|menu|navigation|navbar|breadcrumbs?|pagination
      |byline|meta|metadata|author|author[-_]?(?:bio|info)|dateline|date|posted[-_]?on|published
      |footer|newsletter|subscribe|labels|tags|categories|banner|ads?|advert(?:isement)?|sponsored|popup)
    (?:[-_](?:box|area|bar|section|wrap|wrapper|container|list|links|buttons|icons|notice|block|widget|info|line))?$""",
    re.IGNORECASE | re.VERBOSE,
)
_SITE_HEADER_NAME = re.compile(
    r"^(?:header|masthead|site[-_]?header|blog[-_]?header|site[-_]?branding|top[-_]?bar)$", re.IGNORECASE
)


# A post's own title, and the site's name, by their class.
_POST_TITLE_NAME = re.compile(r"^(?:post|entry|article)[-_]?title$", re.IGNORECASE)
_SITE_NAME_NAME = re.compile(r"^(?:(?:site|blog)[-_]?(?:title|name)|logo|brand)$", re.IGNORECASE)
# Between a page's title and the site's name in its <title>: "… | Site", "… - Site", "Site – …".
_TITLE_SEPARATOR = re.compile(r"\s+(?:[|»·•~–—-]|::)\s+")


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _without_site_name(title: str, site_names: set[str]) -> str:
    """``title`` without the site's name before or after it, when it is one of ``site_names``."""
    separators = list(_TITLE_SEPARATOR.finditer(title))
    if separators:
        last, first = separators[-1], separators[0]
        if _norm(title[last.end() :]) in site_names and title[: last.start()].strip():
            return title[: last.start()].strip()
        if _norm(title[: first.start()]) in site_names and title[first.end() :].strip():
            return title[first.end() :].strip()
    return title


@dataclass
class _Capture:
    """The text of a heading that may title the page, or of an element that names the site."""

    depth: int  # the element's place in the parser's stack
    kinds: frozenset[str]  # "h1", "post-title", "site"
    regions: frozenset[str]  # the regions it is in
    text: list[str]


def _names(attrs: dict[str, str | None]) -> list[str]:
    return (attrs.get("class") or "").split() + (attrs.get("id") or "").split()


class _Open:
    """An element the parser is inside, and what it means for the text."""

    __slots__ = ("at", "by_name", "cells", "frame", "header", "number", "region", "skip", "step", "tag")

    def __init__(self, tag: str, skip: bool = False, region: str = "", frame: bool = False) -> None:
        self.tag = tag
        self.skip = skip  # it and everything inside it are not the article's text
        self.by_name = False  # skipped for its class or id alone (its tag is not the frame's)
        self.at = (0, 0)  # where its start tag is in the page (line, column)
        self.region = region  # "article", "main" or "container" (a post's body, by its class)
        self.frame = frame  # the site's header, outside the article
        self.header = False  # a <header>: its <time> is the post's date, not its text
        self.number: int | None = None  # an <ol>'s next item number
        self.step = 1  # -1 in an <ol reversed>
        self.cells = 0  # a <tr>'s cells so far


class _TextExtractor(HTMLParser):
    """The text of a page, block by block.

    A page with ``<article>`` is a blog post inside a site's frame: only its
    text is the article, and the menus, sidebars, footers and the readers'
    comments around it are not, even inside ``<main>``. Without
    ``<article>``, ``<main>`` is the article; without either, an element whose
    class names a post's body ("post-body", "entry-content",
    ``itemprop="articleBody"``) is; without any, the page's body but for its
    ``<header>``. Wherever it is, what is not the article's text goes:
    sidebars (``<aside>``), footers, forms, an ``<address>``, a ``<time>`` in a
    header (the post's date), and elements whose class or id says they are a
    cookie banner, share buttons, related posts, comments, a menu or a byline
    ("post-meta", "byline", "author"). A name never hides the post's body,
    though: Blogger wraps each post in ``<div class="widget Blog">``, so a page
    whose body is found only inside such elements is read again with them kept
    (``html_to_text``). The first line is the page's ``<h1>`` or, without one, its
    ``<title>``: a ``<title>`` is usually the ``<h1>`` again with the site's
    name after it.

    Elements that a browser shows apart are kept apart, so that no two words
    or numbers run together: a table row is one line with " | " between its
    cells, a definition list's terms and definitions are lines of their own,
    an ``<ol>``'s items keep their numbers ("1. ", from its ``start``),
    links with nothing between them are set apart by a space, and a ``<pre>``
    keeps its lines (elsewhere a line break in the markup is a space), each
    marked ``PREFORMATTED`` for cleaning to keep them together as a listing.
    """

    _BLOCK: ClassVar[frozenset[str]] = frozenset(
        "p div br li h1 h2 h3 h4 h5 h6 tr section article main header footer blockquote pre ul ol table "
        "dl dt dd figure figcaption caption details summary hr address fieldset".split()
    )
    _SKIP: ClassVar[frozenset[str]] = frozenset(
        "script style noscript nav form iframe svg template aside footer button select textarea dialog".split()
    )
    # Elements without an end tag.
    _VOID: ClassVar[frozenset[str]] = frozenset(
        "area base br col embed hr img input link meta param source track wbr".split()
    )
    # A start tag that ends an open element the page did not close: "<li>a<li>b",
    # "<p>a<div>b"; the element is ended up to its container (the list, the row).
    _CLOSES: ClassVar[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
        "li": (frozenset(("li",)), frozenset(("ul", "ol", "menu"))),
        "dt": (frozenset(("dt", "dd")), frozenset(("dl",))),
        "dd": (frozenset(("dt", "dd")), frozenset(("dl",))),
        "tr": (frozenset(("tr", "td", "th")), frozenset(("table", "thead", "tbody", "tfoot"))),
        "td": (frozenset(("td", "th")), frozenset(("tr", "table"))),
        "th": (frozenset(("td", "th")), frozenset(("tr", "table"))),
    }
    _ENDS_P: ClassVar[frozenset[str]] = frozenset(
        "p div ul ol dl table h1 h2 h3 h4 h5 h6 blockquote pre section article main header footer aside "
        "figure nav form hr address details fieldset".split()
    )
    # Elements whose line breaks are kept (a recipe's table of amounts, a poem, code).
    _PREFORMATTED: ClassVar[frozenset[str]] = frozenset(("pre", "listing"))
    _INLINE: ClassVar[frozenset[str]] = frozenset(
        "a abbr b bdi bdo cite code data dfn em i kbd mark q s samp small span strong sub sup time u var".split()
    )

    def __init__(self, holders: frozenset[tuple[int, int]] = frozenset()) -> None:
        super().__init__(convert_charrefs=True)
        # Where the elements are that hold the article's body although their class names the frame.
        self.holders = holders
        self.hiding: set[tuple[int, int]] = set()
        self.parts: list[str] = []
        # The same, from inside each kind of region only.
        self.regions: dict[str, list[str]] = {"article": [], "main": [], "container": []}
        self.title: list[str] = []
        self.captures: list[_Capture] = []
        # The lines of the site's header, and the names it gives itself (og:site_name).
        self.frame: list[str] = []
        self.site_names: set[str] = set()
        self._open: list[_Open] = []
        self._skip = 0
        self._frame = 0
        self._header = 0
        self._region = {"article": 0, "main": 0, "container": 0}
        self._in_title = False
        self._pre = 0  # inside <pre>: its line breaks are the text's
        self._capturing: list[_Capture] = []
        self._after_link = False  # a link just ended, with no text since

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self._VOID:
            self.handle_endtag(tag)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._VOID:
            if tag in self._BLOCK:
                self._add("\n")
            elif tag == "meta":
                self._meta(dict(attrs))
            return
        self._implicit_end(tag)
        element = self._element(tag, dict(attrs))
        self._push(element)
        if tag == "title":
            self._in_title = True
        elif not self._skip:
            self._capture(tag, _names(dict(attrs)))
        if tag == "a" and self._frame:
            self.frame.append("\n")
        if tag in ("ol", "ul", "menu"):
            self._start_list(element, dict(attrs))
        elif tag == "li":
            self._add("\n" + self._item_mark(dict(attrs)))
        elif tag in ("td", "th"):
            row = self._nearest(("tr",), stop=("table",))
            if row is not None:
                if row.cells:
                    self._add(" | ")
                row.cells += 1
        elif tag == "a" and self._after_link:
            self._add(" ")
        elif tag in self._BLOCK:
            self._add("\n")
        self._after_link = False

    def handle_endtag(self, tag: str) -> None:
        if tag in self._VOID:
            return
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                while len(self._open) > i:
                    self._pop()
                break
        self._after_link = tag == "a"

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if data.strip():
            self._after_link = False
        if not self._pre:
            data = data.replace("\n", " ")
        if self._in_title:
            self.title.append(data)
            return
        for capture in self._capturing:
            capture.text.append(data)
        self._add(PREFORMATTED + data.replace("\n", "\n" + PREFORMATTED) if self._pre else data)

    def _element(self, tag: str, attrs: dict[str, str | None]) -> _Open:
        names = _names(attrs)
        region = ""
        if tag == "article":
            region = "article"
        elif tag == "main" or (attrs.get("role") or "").lower() == "main":
            region = "main"
        elif (attrs.get("itemprop") or "").lower() == "articlebody" or any(
            name.lower() in _CONTAINER_NAMES for name in names
        ):
            region = "container"
        structural = region or tag in ("html", "body") or self.getpos() in self.holders
        by_tag = tag in self._SKIP or tag == "address" or (tag == "time" and self._header > 0)
        by_name = not structural and any(_NOISE_NAME.match(name) for name in names)
        skip = by_tag or by_name
        header = tag == "header" or any(_SITE_HEADER_NAME.match(name) for name in names)
        inside = any(self._region.values())
        element = _Open(tag, skip=skip, region=region, frame=header and not inside and not region)
        element.header = header
        element.by_name = by_name and not by_tag
        element.at = self.getpos()
        return element

    def _push(self, element: _Open) -> None:
        if element.region and self._skip and all(e.by_name for e in self._open if e.skip):
            # A post's body inside an element whose name says it is the frame: Blogger
            # wraps every post in <div class="widget Blog">.
            self.hiding.update(e.at for e in self._open if e.skip)
        self._open.append(element)
        self._skip += element.skip
        self._frame += element.frame
        self._header += element.header
        self._pre += element.tag in self._PREFORMATTED
        if element.region:
            self._region[element.region] += 1

    def _pop(self) -> None:
        element = self._open.pop()
        self._skip -= element.skip
        self._frame -= element.frame
        self._header -= element.header
        self._pre -= element.tag in self._PREFORMATTED
        if element.region:
            self._region[element.region] -= 1
        if element.tag == "title":
            self._in_title = False
        if self._capturing and self._capturing[-1].depth == len(self._open):
            capture = self._capturing.pop()
            if "".join(capture.text).strip():
                self.captures.append(capture)
        if element.tag == "a" and self._frame:
            self.frame.append("\n")
        if element.tag in self._BLOCK:
            self._add("\n")

    def _meta(self, attrs: dict[str, str | None]) -> None:
        kind = (attrs.get("property") or attrs.get("name") or "").lower()
        if kind in ("og:site_name", "application-name") and attrs.get("content"):
            self.site_names.add(_norm(attrs["content"] or ""))

    def _capture(self, tag: str, names: list[str]) -> None:
        kinds = set()
        if tag == "h1":
            kinds.add("h1")
        if any(_POST_TITLE_NAME.match(name) for name in names) and tag in ("h1", "h2", "h3", "h4", "div", "span"):
            kinds.add("post-title")
        if any(_SITE_NAME_NAME.match(name) for name in names):
            kinds.add("site")
        if kinds:
            regions = frozenset(region for region, depth in self._region.items() if depth)
            self._capturing.append(_Capture(len(self._open) - 1, frozenset(kinds), regions, []))

    def _implicit_end(self, tag: str) -> None:
        """End the elements that ``tag`` ends without their end tags."""
        if tag in self._ENDS_P:
            self._end_open(frozenset(("p",)), lambda open_tag: open_tag not in self._INLINE)
        if tag in self._CLOSES:
            ends, container = self._CLOSES[tag]
            self._end_open(ends, lambda open_tag: open_tag in container)

    def _end_open(self, ends: frozenset[str], stop: Callable[[str], bool]) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag in ends:
                while len(self._open) > i:
                    self._pop()
                return
            if stop(self._open[i].tag):
                return

    def _nearest(self, tags: tuple[str, ...], stop: tuple[str, ...] = ()) -> _Open | None:
        for element in reversed(self._open):
            if element.tag in tags:
                return element
            if element.tag in stop:
                return None
        return None

    def _start_list(self, element: _Open, attrs: dict[str, str | None]) -> None:
        if element.tag != "ol":
            return
        element.step = -1 if "reversed" in attrs else 1
        start = (attrs.get("start") or "").strip()
        element.number = int(start) if re.fullmatch(r"-?\d{1,9}", start) else 1

    def _item_mark(self, attrs: dict[str, str | None]) -> str:
        """ "1. " for an ordered list's item (its ``value`` if it has one), "• " otherwise."""
        listing = self._nearest(("ol", "ul", "menu"))
        if listing is None or listing.number is None:
            return "• "
        value = (attrs.get("value") or "").strip()
        if re.fullmatch(r"-?\d{1,9}", value):
            listing.number = int(value)
        number = listing.number
        listing.number += listing.step
        return f"{number}. "

    def _add(self, text: str) -> None:
        if self._skip:
            return
        if self._frame:
            self.frame.append(text)
            return
        self.parts.append(text)
        for region, depth in self._region.items():
            if depth:
                self.regions[region].append(text)

    def body(self) -> tuple[str, str]:
        """The article's region that has text, the first of <article>, <main> and
        a post body's container; or, without one, the page's text. With the region's kind."""
        for region, parts in self.regions.items():
            text = "".join(parts)
            if text.strip():
                return region, text
        return "", "".join(self.parts)

    def page_title(self, region: str) -> str:
        """The article's own ``<h1>``; else a heading whose class says it is the
        post's title; else the first ``<h1>`` that is not the site's name
        (``og:site_name``, a "site-title" class); else the ``<title>``, without
        the site's name when the page gives it (those, or a line of its header)."""
        names = self.site_names | {_norm("".join(c.text)) for c in self.captures if "site" in c.kinds}
        headings = [" ".join("".join(c.text).split()) for c in self.captures if "h1" in c.kinds and region in c.regions]
        headings += [" ".join("".join(c.text).split()) for c in self.captures if "post-title" in c.kinds]
        headings += [
            " ".join("".join(c.text).split())
            for c in self.captures
            if "h1" in c.kinds and "site" not in c.kinds and _norm("".join(c.text)) not in names
        ]
        if headings:
            return headings[0]
        names |= {_norm(line) for line in "".join(self.frame).split("\n")}
        names.discard("")
        return _without_site_name(" ".join("".join(self.title).split()), names)


def _parsed(markup: str, holders: frozenset[tuple[int, int]] = frozenset()) -> _TextExtractor:
    parser = _TextExtractor(holders)
    parser.feed(markup)
    parser.close()
    return parser


def html_to_text(markup: str) -> str:
    parser = _parsed(markup)
    if parser.hiding and not parser.body()[0]:
        # The article's body was found only inside elements named as the frame: they hold it, so
        # they are not the frame (what else they hold, a sidebar or comments, still is). Unless
        # what they hold is shorter than the page's text without it (related posts' excerpts).
        again = _parsed(markup, frozenset(parser.hiding))
        if len(again.body()[1].split()) > len(parser.body()[1].split()):
            parser = again
    # The parser has already decoded entities, once.
    region, body = parser.body()
    title = parser.page_title(region)
    first = next((text for line in body.split("\n") if (text := line.replace(PREFORMATTED, "").strip())), "")
    if title and first and " ".join(first.split()) != title:
        body = title + "\n" + body
    return body
