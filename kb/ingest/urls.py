"""A post's public address, where the post or its site states it.

In this order, the first found wins:

1. ``sources.toml`` beside the articles, which maps a file to its URL;
2. the file's own statement: front matter (``url``, ``permalink``,
   ``canonical_url``), a saved page's ``<link rel="canonical">`` or
   ``og:url``, a trailing "See more at: …" line (its labels, in several
   languages, are data: ``source_link_labels`` in ``kb/text/data/<lang>.toml``);
3. the static-site generator's permalink rule (Hugo, Jekyll), from the post's
   path, ``slug`` and date, on the site's base URL (``KB_SITE_URL``, else the
   site's own config).

Only an absolute ``http``/``https`` address is kept (a ``javascript:`` one is
refused), without its fragment (a share button's ``#sthash…`` tracking). A
path ("/posts/x/") is joined to the site's base URL, and needs one.
"""

from __future__ import annotations

import datetime
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit, urlunsplit

from kb.ingest.markdown import front_matter
from kb.text import lexicon

log = logging.getLogger(__name__)

SOURCES_FILE = "sources.toml"
MAX_URL = 2048
# Characters no address holds as written (a space, a quote, markup, controls).
_NOT_IN_URL = re.compile(r"[\s\"'<>\\^`{|}\x00-\x1f\x7f]")


def public_url(value: object, base: str | None = None) -> str | None:
    """``value`` as an absolute http(s) URL without its fragment, or None.

    A path starting with one "/" (or none) is joined to ``base``; anything else
    that is not http(s) (``javascript:``, ``data:``, ``//host/…``) is refused."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_URL or _NOT_IN_URL.search(text):
        return None
    try:
        parts = urlsplit(text)
        if not parts.scheme and not parts.netloc and not text.startswith("//") and base:
            # A path of the site (a ":" before any "/" is a scheme, not a path).
            if ":" in text.split("/", 1)[0]:
                return None
            parts = urlsplit(urljoin(base.rstrip("/") + "/", text.lstrip("/")))
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            return None
        _ = parts.port  # a port out of range raises
    except ValueError:
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


# -- the site ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """What a folder says about the site its articles are published on."""

    base: str | None = None  # the site's base URL
    generator: str = ""  # "hugo", "jekyll", or "" (none known)
    content_prefix: str = ""  # the folder under the ingested one that holds the posts ("content/")
    # Hugo's [permalinks] per section, or Jekyll's permalink setting ("date", "pretty", "/:title/").
    permalinks: Mapping[str, str] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)  # sources.toml: source -> URL
    problems: tuple[str, ...] = ()  # what sources.toml got wrong, for the ingest's report


_HUGO_CONFIGS = ("hugo.toml", "hugo.yaml", "hugo.yml", "config.toml", "config.yaml", "config.yml")
_JEKYLL_CONFIGS = ("_config.yml", "_config.yaml")
_YAML_VALUE = re.compile(r"^(\w+)\s*:\s*(.*?)\s*(?:\s#.*)?$")


def _yaml_top(path: Path) -> dict[str, str]:
    """A YAML file's top-level ``key: value`` lines, values unquoted (all a site's config needs here)."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _YAML_VALUE.match(line)
        if match:
            found.setdefault(match.group(1), _unquote(match.group(2)))
    return found


def _config(path: Path) -> dict[str, object]:
    try:
        if path.suffix == ".toml":
            return tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
        return dict(_yaml_top(path))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("cannot read the site's config %s (%s); its base URL is not used", path, exc)
        return {}


def read_site(folder: Path, site_url: str | None = None) -> Site:
    """The site ``folder`` (a site's root, or its ``content``/``_posts`` folder) belongs to."""
    overrides, problems = _read_sources(folder, site_url)
    roots = [(folder, "")]
    if folder.name in ("content", "_posts"):
        roots.append((folder.parent, folder.name + "/"))
    for root, inside in roots:
        for name in _HUGO_CONFIGS:
            if (root / name).is_file() and (root / "content").is_dir():
                config = _config(root / name)
                base = config.get("baseURL") or config.get("baseurl")
                links = config.get("permalinks")
                rules = {str(k): str(v) for k, v in links.items()} if isinstance(links, dict) else {}
                return Site(
                    base=_base(site_url, base),
                    generator="hugo",
                    content_prefix="" if inside else "content/",
                    permalinks=rules,
                    overrides=overrides,
                    problems=problems,
                )
        for name in _JEKYLL_CONFIGS:
            if (root / name).is_file():
                config = _config(root / name)
                base = str(config.get("url") or "").rstrip("/") + str(config.get("baseurl") or "")
                rule = str(config.get("permalink") or "date")
                prefix = inside if inside == "_posts/" else ""
                return Site(
                    base=_base(site_url, base),
                    generator="jekyll",
                    content_prefix=prefix,
                    permalinks={"posts": rule},
                    overrides=overrides,
                    problems=problems,
                )
    # No config: the layout says which generator, and KB_SITE_URL is the base.
    generator = ""
    prefix = ""
    if folder.name == "content" or (folder / "content").is_dir():
        generator, prefix = "hugo", "" if folder.name == "content" else "content/"
    elif folder.name == "_posts" or (folder / "_posts").is_dir():
        generator, prefix = "jekyll", "_posts/" if folder.name == "_posts" else ""
    return Site(
        base=_base(site_url, None),
        generator=generator,
        content_prefix=prefix,
        permalinks={"posts": "date"} if generator == "jekyll" else {},
        overrides=overrides,
        problems=problems,
    )


def _base(site_url: str | None, configured: object) -> str | None:
    """KB_SITE_URL, else the site's config's base URL when it is an http(s) address."""
    for candidate in (site_url, configured):
        url = public_url(candidate)
        if url:
            return url.rstrip("/")
    return None


def _read_sources(folder: Path, site_url: str | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """``sources.toml``: ``"posts/a.md" = "https://blog.example.com/a/"``, one line a file."""
    path = folder / SOURCES_FILE
    if not path.is_file():
        return {}, ()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, (f"not valid TOML ({exc}); write one line a file: \"posts/a.md\" = \"https://…\"",)
    found: dict[str, str] = {}
    problems: list[str] = []
    for key, value in table.items():
        url = public_url(value, _base(site_url, None))
        if url is None:
            problems.append(f"{key}: {str(value)[:80]!r} is not an http(s) address; it is not used")
        else:
            found[key] = url
    return found, tuple(problems)


# -- the file's own statement -------------------------------------------------------------------------


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def front_matter_fields(markup: str) -> dict[str, str | list[str]]:
    """A Markdown post's top-level front-matter settings, as text (a list as a list), by
    their names in lower case: the settings ``kb.ingest.markdown.front_matter`` parses."""
    settings, _ = front_matter(markup)
    return {key.lower(): _as_text(value) for key, value in settings.items()}


def _as_text(value: object) -> str | list[str]:
    if isinstance(value, list):
        return [text for item in value if isinstance(text := _as_text(item), str)]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):  # a date or a time, as written: 2024-02-10 (10:00:00)
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    return "" if value is None or isinstance(value, dict) else str(value)


class HeadLinks(HTMLParser):
    """A page's ``<link rel="canonical">`` and ``<meta property="og:url">``, and its
    translations' ``<link rel="alternate" hreflang>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.canonical: str | None = None
        self.og_url: str | None = None
        self.alternates: list[tuple[str, str]] = []  # (hreflang, href), as written

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        rel = values.get("rel", "").lower().split()
        if tag == "link" and "canonical" in rel and self.canonical is None:
            self.canonical = values.get("href")
        elif tag == "link" and "alternate" in rel and values.get("hreflang") and values.get("href"):
            self.alternates.append((values["hreflang"], values["href"]))
        elif tag == "meta" and values.get("property", values.get("name", "")).lower() == "og:url":
            self.og_url = self.og_url or values.get("content")


def head_links(markup: str) -> HeadLinks | None:
    """What a saved page's head says of its address and its translations (None: markup too broken to read)."""
    parser = HeadLinks()
    body = markup.lower().find("<body")
    head = markup[: body if body >= 0 else 200_000]
    try:
        parser.feed(head)
        parser.close()
    except (AssertionError, ValueError):  # html.parser on broken markup
        return None
    return parser


def html_url(markup: str, base: str | None) -> str | None:
    """A saved page's own address: its canonical link, else its ``og:url``."""
    parser = head_links(markup)
    if parser is None:
        return None
    for candidate in (parser.canonical, parser.og_url):
        url = public_url(candidate, base)
        if url:
            return url
        if candidate:
            log.warning("a page's address %r is not an http(s) URL; it is not used", candidate[:80])
    return None


# The trailing lines searched for "See more at: URL": at least this many, or the last quarter.
TRAILING_LINES = 10


@cache
def _label_pattern() -> re.Pattern[str]:
    labels = sorted(lexicon.every("source_link_labels"), key=len, reverse=True)
    alternatives = "|".join(re.escape(label).replace(r"\ ", r"\s+") for label in labels)
    return re.compile(rf"(?:^|[\W_])(?:{alternatives})\s*:?\s*(https?://\S+)", re.IGNORECASE)


def trailing_url(text: str) -> str | None:
    """The address a "See more at: …" line near the article's end gives (the last such line)."""
    lines = [line for line in text.splitlines() if line.strip()]
    tail = lines[-max(TRAILING_LINES, len(lines) // 4) :]
    pattern = _label_pattern()
    for line in reversed(tail):
        match = pattern.search(line)
        if match:
            return public_url(match.group(1).rstrip(".,;:!?)]»\"'"))
    return None


# -- the generators' permalink rules --------------------------------------------------------------------

_JEKYLL_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_JEKYLL_POST = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_TOKEN = re.compile(r":(\w+)")


def _text(fields: Mapping[str, str | list[str]], key: str) -> str:
    value = fields.get(key, "")
    return value if isinstance(value, str) else ""


def _fill(rule: str, values: Mapping[str, str]) -> str:
    filled = _TOKEN.sub(lambda m: values.get(m.group(1), m.group(0)), rule)
    return re.sub(r"/{2,}", "/", filled)


def hugo_path(path: PurePosixPath, fields: Mapping[str, str | list[str]], rules: Mapping[str, str]) -> str:
    """A Hugo page's path under the site: its ``url``, else its section's ``[permalinks]`` rule,
    else its folders and name (a bundle's folder), its last part replaced by its ``slug``."""
    bundle = path.stem in ("index", "_index")
    folders = path.parent.parts if bundle else (*path.parent.parts, path.stem)
    slug = _text(fields, "slug")
    section = path.parts[0] if len(path.parts) > 1 else ""
    rule = rules.get(section)
    if rule and path.stem != "_index":
        date = _DATE.match(_text(fields, "date"))
        name = folders[-1] if folders else ""
        values = {
            "section": section,
            "sections": "/".join(path.parent.parts),
            "slug": slug or _slugify(_text(fields, "title")) or name,
            "title": _slugify(_text(fields, "title")) or name,
            "filename": name,
            "contentbasename": name,
            "slugorfilename": slug or name,
            "slugorcontentbasename": slug or name,
        }
        if date:
            values |= {"year": date.group(1), "month": date.group(2), "day": date.group(3)}
        return _fill(rule if rule.startswith("/") else "/" + rule, values)
    parts = [part.lower() for part in folders]
    if slug and parts and path.stem != "_index":
        parts[-1] = slug
    return "/" + "".join(part + "/" for part in parts)


def jekyll_path(path: PurePosixPath, fields: Mapping[str, str | list[str]], style: str) -> str | None:
    """A Jekyll post's path under the site (``_posts/YYYY-MM-DD-title.md``, by the permalink
    style), or a page's (``about.md`` is ``/about.html``); None for Jekyll's own folders."""
    if "_posts" not in path.parts:
        if any(part.startswith("_") for part in path.parts):
            return None
        if path.stem == "index":
            return "/" + "".join(part + "/" for part in path.parent.parts)
        return "/" + "/".join((*path.parent.parts, path.stem + ".html"))
    post = _JEKYLL_POST.match(path.stem)
    if post is None:
        return None
    where = path.parts.index("_posts")
    categories = [*path.parts[:where]]
    listed = fields.get("categories") or fields.get("category") or []
    categories += listed.split() if isinstance(listed, str) else listed
    date = _DATE.match(_text(fields, "date")) or post
    values = {
        "categories": "/".join(c.lower().replace(" ", "-") for c in categories),
        "year": date.group(1),
        "month": date.group(2),
        "day": date.group(3),
        "short_year": date.group(1)[2:],
        "i_month": str(int(date.group(2))),
        "i_day": str(int(date.group(3))),
        "title": _text(fields, "slug") or post.group(4),
        "slug": _text(fields, "slug") or post.group(4),
        "output_ext": ".html",
    }
    rule = _JEKYLL_STYLES.get(style, style)
    return _fill(rule if rule.startswith("/") else "/" + rule, values)


def _slugify(title: str) -> str:
    return re.sub(r"[^\w]+", "-", title.strip().lower()).strip("-")


# -- one article -------------------------------------------------------------------------------------


def article_url(source: str, markup: str, text: str, site: Site) -> str | None:
    """The public URL of the article ``source`` (its path under the ingested folder):
    ``markup`` is the file as read, ``text`` the article's text before cleaning."""
    if source in site.overrides:
        return site.overrides[source]
    lower = source.lower()
    fields: Mapping[str, str | list[str]] = {}
    if lower.endswith((".md", ".markdown")):
        fields = front_matter_fields(markup)
        for key in ("url", "permalink", "canonical_url", "canonicalurl", "canonical"):
            value = _text(fields, key)
            if not value:
                continue
            if key == "permalink" and ":" in value.split("//", 1)[-1] and site.generator == "jekyll":
                continue  # a rule with placeholders: filled in below
            url = public_url(value, site.base)
            if url:
                return url
            if not value.startswith("/") or site.base:
                log.warning("%s: front matter %s %r is not an http(s) URL; it is not used", source, key, value[:80])
    elif lower.endswith((".html", ".htm")):
        url = html_url(markup, site.base)
        if url:
            return url
    url = trailing_url(text)
    if url:
        return url
    return _permalink(source, fields, site)


def _permalink(source: str, fields: Mapping[str, str | list[str]], site: Site) -> str | None:
    if not site.base or not site.generator or not source.lower().endswith((".md", ".markdown")):
        return None
    if not source.startswith(site.content_prefix):
        return None
    path = PurePosixPath(source[len(site.content_prefix) :])
    if site.content_prefix == "_posts/":  # the ingested folder is Jekyll's _posts itself
        path = PurePosixPath("_posts") / path
    if site.generator == "hugo":
        found: str | None = hugo_path(path, fields, site.permalinks)
    else:
        rule = _text(fields, "permalink")
        found = jekyll_path(path, fields, rule or site.permalinks.get("posts", "date"))
        if rule and "_posts" not in path.parts and found is not None:
            found = _fill(rule, {"title": path.stem, "output_ext": ".html"})
    return public_url(found, site.base) if found else None
