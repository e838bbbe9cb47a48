"""Cleaning: boilerplate out, repeated blocks once, whitespace normalised.

Cleaning works on whole lines (blocks). It drops a block or keeps it as it is,
so it never rewrites a word; the only changes inside a kept block are to
whitespace and to control characters (dropped: they are never text).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import ClassVar

log = logging.getLogger(__name__)

# Lines that belong to comment forms, share footers and data-protection notes,
# in the languages of the blogs we read, and image captions that end with
# their credit ("… | Omnicanal.es"). Matched on the stripped line.
_BOILERPLATE_LINE = re.compile(
    r"""^(
        .*\bsee\ more\ at:.*
      | no\ hay\ comentarios.*
      | (publicar|deja|dejar|escribe)\ (un\ )?comentario.*
      | (deixe|deixar|publicar)\ (um\ )?coment[aá]rio.*
      | (leave|post|add)\ a\ (comment|reply).*
      | (lasă|lasa|adaugă|adauga)\ un\ comentariu.*
      | (laisser|laissez|ajouter)\ un\ commentaire.*
      | .*(endereço\ de\ e-?mail|dirección\ de\ correo(\ electrónico)?|email\ address|adresa\ (ta\ )?de\ e-?mail)
          .*(não\ será|no\ será|will\ not|nu\ va).*
      | .*(campos\ obrigatórios|campos\ obligatorios|required\ fields|câmpurile\ obligatorii).*
      | [*\s]+
      | (\d+\.\s*)?(responsável|responsable|finalidade|finalidad|legitimação|legitimación|
           comunicação|comunicación|armazenamento|almacenamiento|direitos|derechos|destinatários|
           destinatarios)(\ (pelos|de\ los|dos|de)\ dados|\ (de\ )?los\ datos)?\s*:.*
      | compart(ir|ilhar|e)(\ en|\ no|\ this)?\s*:?\s*(facebook|twitter|whatsapp|linkedin).*
      | .{1,150}\ \|\ ?(www\.)?[\w-]+(\.[\w-]+)*\.[a-z]{2,6}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# Where a comment form starts, everything after it is form and legal text.
_COMMENT_FORM_START = re.compile(
    r"^((deixe|deja|leave|lasă|laissez|publicar)\ (um\ |un\ |a\ )?(coment|reply|commentaire|comentariu)"
    r"|no hay comentarios|publicar un comentario)",
    re.IGNORECASE | re.VERBOSE,
)

# Characters that drive a terminal or reorder how a line is shown, never words: C0 controls
# but tab and line feed, DEL, C1 controls, and the bidi embeddings, overrides and isolates.
# Line and page breaks among them become line breaks; the rest are dropped.
_BREAKS = re.compile(r"[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_TITLE_SITE_SUFFIX = re.compile(r"\s+[»|]\s+[^»|]{1,40}$")
_SENTENCE_END = re.compile(r"[.!?؟।]\s")

MIN_REPEATED_BLOCK = 50
MAX_TITLE = 120


@dataclass(frozen=True)
class Cleaned:
    title: str
    text: str
    dropped_boilerplate: int
    dropped_repeats: int


def normalise_line(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


def _key(line: str) -> str:
    return line.casefold()


def clean_text(raw: str) -> Cleaned:
    """Clean a document's text; blocks are joined with one blank line."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = _CONTROLS.sub("", _BREAKS.sub("\n", text))
    lines = [normalise_line(line) for line in text.split("\n")]
    lines = [line for line in lines if line]

    # A comment form in the last part of the article: drop it and what follows.
    cut = len(lines)
    for i, line in enumerate(lines):
        if i >= len(lines) // 2 and _COMMENT_FORM_START.match(line):
            cut = i
            break
    boiler = len(lines) - cut
    lines = lines[:cut]

    kept_boiler = [line for line in lines if not _BOILERPLATE_LINE.match(line)]
    boiler += len(lines) - len(kept_boiler)

    # A page's title with the site's name ("… » MuyCanal"), then the article's
    # own heading saying the same without it: the heading is kept, once.
    if len(kept_boiler) >= 2 and kept_boiler[0] != kept_boiler[1] and make_title(kept_boiler[0]) == kept_boiler[1]:
        kept_boiler = kept_boiler[1:]
        boiler += 1
    kept, repeats = _drop_repeated_blocks(kept_boiler)
    title = make_title(kept[0]) if kept else ""
    return Cleaned(
        title=title,
        text="\n\n".join(kept),
        dropped_boilerplate=boiler,
        dropped_repeats=repeats,
    )


def _drop_repeated_blocks(lines: list[str]) -> tuple[list[str], int]:
    """Keep the first copy of each repeated paragraph.

    A long line seen before is a repeat. A short line seen before (a heading,
    a caption) is a repeat only inside a run of repeats: a heading that a
    repeated section carries along.
    """
    seen: set[str] = set()
    duplicate = []
    for line in lines:
        key = _key(line)
        duplicate.append(key in seen)
        seen.add(key)
    drop = [dup and len(line) >= MIN_REPEATED_BLOCK for dup, line in zip(duplicate, lines, strict=True)]
    changed = True
    while changed:
        changed = False
        for i in range(len(lines)):
            if drop[i] or not duplicate[i]:
                continue
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(lines)]
            if any(drop[j] for j in neighbours):
                drop[i] = True
                changed = True
    kept = [line for line, d in zip(lines, drop, strict=True) if not d]
    return kept, sum(drop)


def make_title(first_line: str) -> str:
    title = _TITLE_SITE_SUFFIX.sub("", first_line.lstrip("#").strip()).strip()
    if len(title) > MAX_TITLE:
        match = _SENTENCE_END.search(title)
        if match and match.start() < MAX_TITLE:
            title = title[: match.start() + 1]
        else:
            cut = title.rfind(" ", 0, MAX_TITLE)
            title = title[: cut if cut > 0 else MAX_TITLE] + "…"
    return title


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

    __slots__ = ("cells", "frame", "header", "number", "region", "skip", "step", "tag")

    def __init__(self, tag: str, skip: bool = False, region: str = "", frame: bool = False) -> None:
        self.tag = tag
        self.skip = skip  # it and everything inside it are not the article's text
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
    ("post-meta", "byline", "author"). The first line is the page's ``<h1>`` or, without one, its
    ``<title>``: a ``<title>`` is usually the ``<h1>`` again with the site's
    name after it.

    Elements that a browser shows apart are kept apart, so that no two words
    or numbers run together: a table row is one line with " | " between its
    cells, a definition list's terms and definitions are lines of their own,
    an ``<ol>``'s items keep their numbers ("1. ", from its ``start``), and
    links with nothing between them are set apart by a space.
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
    _INLINE: ClassVar[frozenset[str]] = frozenset(
        "a abbr b bdi bdo cite code data dfn em i kbd mark q s samp small span strong sub sup time u var".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
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
        data = data.replace("\n", " ")
        if self._in_title:
            self.title.append(data)
            return
        for capture in self._capturing:
            capture.text.append(data)
        self._add(data)

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
        structural = region or tag in ("html", "body")
        skip = (
            tag in self._SKIP
            or tag == "address"
            or (tag == "time" and self._header > 0)
            or (not structural and any(_NOISE_NAME.match(name) for name in names))
        )
        header = tag == "header" or any(_SITE_HEADER_NAME.match(name) for name in names)
        inside = any(self._region.values())
        element = _Open(tag, skip=skip, region=region, frame=header and not inside and not region)
        element.header = header
        return element

    def _push(self, element: _Open) -> None:
        self._open.append(element)
        self._skip += element.skip
        self._frame += element.frame
        self._header += element.header
        if element.region:
            self._region[element.region] += 1

    def _pop(self) -> None:
        element = self._open.pop()
        self._skip -= element.skip
        self._frame -= element.frame
        self._header -= element.header
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


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    # The parser has already decoded entities, once.
    region, body = parser.body()
    title = parser.page_title(region)
    first = next((line.strip() for line in body.split("\n") if line.strip()), "")
    if title and first and " ".join(first.split()) != title:
        body = title + "\n" + body
    return body


# Markdown: the markup goes, the words stay (as with HTML). Line by line, so a
# fenced code block's lines are kept as written.
_MD_FENCE = re.compile(r"^\s*(```|~~~)")
_MD_ATX = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_MD_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_MD_QUOTE = re.compile(r"^\s{0,3}>\s?")
_MD_BULLET = re.compile(r"^(\s*)[*+]\s+")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_MD_CODE = re.compile(r"`([^`]+)`")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])")


def front_matter(markup: str) -> tuple[str, str]:
    """Split a static-site generator's front matter (YAML between "---"
    lines, TOML between "+++" lines) from a Markdown article.

    The front matter is the post's settings, not its text: only its title
    is kept, as the article's first line. Returns (title, body); a text
    without front matter comes back whole, with an empty title.
    """
    lines = markup.lstrip("\ufeff").splitlines()
    end = _front_matter_end(lines)
    if end is None:
        return "", markup
    title = ""
    for line in lines[1:end]:
        match = _FRONT_MATTER_TITLE.match(line)
        if match:
            value = match.group(1).strip()
            if value[:1] in ("[", "{"):
                # A list or a table, or front matter broken there ("title: [unclosed"): not a
                # title; the article's own first line is. ("[Draft] …" in quotes is text.)
                log.warning("front matter title %r is not text; the article's first line is the title", value[:40])
            else:
                title = _unquote(value)
            break
    return title, "\n".join(lines[end + 1 :])


def _front_matter_end(lines: list[str]) -> int | None:
    """The index of the line that closes the front matter, if ``lines`` open with one."""
    if not lines or lines[0].rstrip() not in ("---", "+++"):
        return None
    closing = ("---", "...") if lines[0].rstrip() == "---" else ("+++",)
    return next((i for i, line in enumerate(lines[1:], start=1) if line.rstrip() in closing), None)


def draft_setting(markup: str) -> str | None:
    """The front-matter setting, as written, that makes a post a draft the blog
    does not publish ("draft: true", "draft = true", "published: false"); None
    for a post that is published."""
    lines = markup.lstrip("\ufeff").splitlines()
    end = _front_matter_end(lines)
    for line in lines[1:end] if end else ():
        match = _FRONT_MATTER_DRAFT.match(line)
        if match and (match.group(2).lower() == "draft") == (match.group(3).lower() in _TRUE):
            return match.group(1)
    return None


_FRONT_MATTER_DRAFT = re.compile(
    r"""^((draft|published)\s*[:=]\s*["']?(true|false|yes|no|on|off)["']?)\s*(?:\#.*)?$""", re.IGNORECASE
)
_TRUE = frozenset(("true", "yes", "on"))
_FRONT_MATTER_TITLE = re.compile(r"^title\s*[:=]\s*(.+?)\s*$", re.IGNORECASE)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return inner.replace('\\"', '"') if value[0] == '"' else inner.replace("''", "'")
    return value


# An HTML comment (the author's private note) and a static-site generator's
# template tags: Hugo's shortcodes ("{{< youtube … >}}", "{{% notice %}}")
# and Liquid's ("{% include … %}", "{{ page.title }}"). Markup, not text; what
# a paired shortcode wraps is text and stays. Either may run over several lines.
_MD_MARKUP = re.compile(r"<!--.*?-->|\{\{<.*?>\}\}|\{\{%.*?%\}\}|\{%.*?%\}|\{\{.*?\}\}")
_MD_MARKUP_START = re.compile(r"<!--|\{\{[<%]?|\{%")
_MD_MARKUP_END = {"<!--": "-->", "{{<": ">}}", "{{%": "%}}", "{%": "%}", "{{": "}}"}
_MD_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def _without_markup(line: str, pending: str | None) -> tuple[str, str | None]:
    """``line`` without comments and template tags, outside code spans; and
    the end of one that it opens and leaves open (``pending`` is the end that
    an earlier line's left open)."""
    if pending:
        end = line.find(pending)
        if end < 0:
            return "", pending
        line = line[end + len(pending) :]
    kept: list[str] = []
    position = 0
    for code in [*_MD_CODE_SPAN.finditer(line), None]:
        stop = code.start() if code else len(line)
        text = _MD_MARKUP.sub("", line[position:stop])
        opened = _MD_MARKUP_START.search(text)
        if opened:
            kept.append(text[: opened.start()])
            return "".join(kept), _MD_MARKUP_END[opened.group()]
        kept.append(text)
        if code:
            kept.append(code.group())
            position = code.end()
    return "".join(kept), None


# A table: a row of cells between "|", a separator row under its header
# ("|---|:--:|"), and the rows that follow until a line without a "|".
_MD_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_MD_CELL_BAR = re.compile(r"(?<!\\)\|")


def _table_lines(lines: list[str]) -> dict[int, bool]:
    """The lines of ``lines`` that are a table's, outside fenced code: True for
    a row, False for a separator."""
    table: dict[int, bool] = {}
    fenced = False
    i = 0
    while i < len(lines):
        if _MD_FENCE.match(lines[i]):
            fenced = not fenced
        elif (
            not fenced
            and "|" in lines[i]
            and i + 1 < len(lines)
            and "|" in lines[i + 1]
            and _MD_TABLE_SEPARATOR.match(lines[i + 1])
        ):
            table[i], table[i + 1] = True, False
            i += 2
            while i < len(lines) and lines[i].strip() and "|" in lines[i]:
                table[i] = True
                i += 1
            continue
        i += 1
    return table


def _table_row(line: str) -> str:
    """A table row's cells, trimmed, with " | " between them and none around them."""
    row = line.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return " | ".join(cell.strip().replace("\\|", "|") for cell in _MD_CELL_BAR.split(row))


# Footnotes: "[^1]" in the text, "[^1]: The note." below, with indented lines
# continuing the note. A page shows the marks as numbers in the order the text
# first refers to them, and the notes at the end in that order.
_MD_FOOTNOTE = re.compile(r"^\s{0,3}\[\^([^\]\s]+)\]:[ \t]*(.*)$")
_MD_FOOTNOTE_REF = re.compile(r"\[\^([^\]\s]+)\](?!:)")
_MD_CONTINUATION = re.compile(r"^(?: {4}|\t)\s*(\S.*)$")


class _Footnotes:
    """An article's footnotes: its marks as "[1]", "[2]" …, and its notes as lines "[1] …" at its end."""

    def __init__(self, lines: list[str]) -> None:
        self.labels = {m.group(1) for m in map(_MD_FOOTNOTE.match, lines) if m}
        self.number: dict[str, int] = {}
        self.notes: dict[str, list[str]] = {}

    def mark(self, line: str) -> str:
        return _MD_FOOTNOTE_REF.sub(self._mark, line) if self.labels else line

    def _mark(self, match: re.Match[str]) -> str:
        label = match.group(1)
        if label not in self.labels:
            return match.group()  # no note: not a footnote, and shown as written
        return f"[{self.number.setdefault(label, len(self.number) + 1)}]"

    def lines(self, inline: Callable[[str], str]) -> list[str]:
        for label in self.notes:
            self.number.setdefault(label, len(self.number) + 1)
        ordered = sorted(self.notes, key=self.number.__getitem__)
        notes = [f"[{self.number[label]}] {inline(' '.join(self.notes[label]))}" for label in ordered]
        return ["", *notes] if notes else []


def _md_inline(line: str) -> str:
    line = _MD_IMAGE.sub(r"\1", line)
    line = _MD_LINK.sub(r"\1", line)
    line = _MD_REF_LINK.sub(r"\1", line)
    line = _MD_AUTOLINK.sub(r"\1", line)
    line = _MD_CODE.sub(r"\1", line)
    line = _MD_STRONG.sub(r"\2", line)
    return _MD_EMPHASIS.sub(lambda m: m.group(1) or m.group(2), line)


def markdown_to_text(markup: str) -> str:
    """The text of a Markdown article: headings without their "#", emphasis,
    links and code without their marks, "*"/"+" bullets as "-", a table's
    rows as lines of cells with " | " between them, footnote marks as "[1]"
    and their notes as lines "[1] …" at the end. Front matter
    goes too, but for its title, which becomes the first line, and so do HTML
    comments and template tags (Hugo's shortcodes, Liquid's tags)."""
    title, markup = front_matter(markup)
    out: list[str] = []
    fenced = False
    pending: str | None = None  # the end of a comment or template tag left open
    lines = markup.splitlines()
    table = _table_lines(lines)
    footnotes = _Footnotes(lines)
    note: list[str] | None = None  # the footnote whose indented lines may follow
    for i, line in enumerate(lines):
        if _MD_FENCE.match(line) and not pending:
            fenced = not fenced
            continue
        if fenced:
            out.append(line)
            continue
        if pending or _MD_MARKUP_START.search(line):
            stripped, pending = _without_markup(line, pending)
            if not stripped.strip():
                continue  # a line of markup only: the paragraph around it goes on
            line = stripped
        footnote = _MD_FOOTNOTE.match(line)
        if footnote:
            note = footnotes.notes.setdefault(footnote.group(1), [])
            note.append(footnote.group(2).strip())
            continue
        continuation = _MD_CONTINUATION.match(line) if note is not None else None
        if continuation and note is not None:
            note.append(continuation.group(1))
            continue
        if line.strip():
            note = None
        if i in table:
            if not table[i]:
                continue  # the separator under the header
            line = _table_row(line)
        elif _MD_SETEXT.match(line) and out and out[-1].strip():
            continue  # the underline of a heading
        if _MD_RULE.match(line) or _MD_LINK_DEFINITION.match(line):
            out.append("")
            continue
        heading = None if i in table else _MD_ATX.match(line)
        if heading:
            line = heading.group(1)
        line = _MD_BULLET.sub(r"\1- ", _MD_QUOTE.sub("", line))
        out.append(_md_inline(footnotes.mark(line)))
    out.extend(footnotes.lines(lambda text: _md_inline(footnotes.mark(text))))
    first = next((line.strip() for line in out if line.strip()), "")
    # A title over no text (front matter only) is not an article.
    if title and first and first != title:
        out.insert(0, title)  # unless the article's own first heading says it already
    return "\n".join(out)
