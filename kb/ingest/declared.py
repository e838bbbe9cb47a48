"""Translations a blog declares: which of its files say they translate each other.

A blog's tools write it down in one of these ways, all read here:

- Hugo's file names: ``post.pt.md`` and ``post.en.md`` (and ``post.md``, in the
  site's default language) in one folder, the same name but for a language code;
- a folder per language: ``pt/posts/nata.md`` and ``en/posts/nata.md`` (Hugo's
  content directories, Eleventy, Polyglot's ``lang_from_path``);
- front matter: a key the translations share (Hugo's ``translationKey``,
  Polyglot's ``page_id``);
- a saved page's head: ``<link rel="alternate" hreflang="en" href="…">``
  naming another saved page by its address (its canonical link or
  ``og:url``), as WordPress with Polylang or WPML, and most CMSs, write it.

A declared pair is a translation whatever its length; ``kb.index.translations``
finds the undeclared ones by their passages. A declaration that names no
ingested document, or two documents in the same language, is logged and left.
A document's language is the one detected in its text, as everywhere (a
theme's ``<html lang>`` or a front matter's ``lang`` copied from another post
is often wrong), so a language a file states is not read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from itertools import combinations
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit

from kb.ingest.urls import front_matter_fields, head_links, public_url
from kb.models import Declaration, Document
from kb.text import lexicon

log = logging.getLogger(__name__)

# Front-matter settings whose value the translations of a post share: Hugo's
# (any case, as Hugo reads them) and Polyglot's (Jekyll).
TRANSLATION_KEYS = ("translationkey", "page_id")
# A language tag as file names, folders and hreflang write it: "pt", "pt-BR", "pt_br", "zh-Hant".
_TAG = re.compile(r"([A-Za-z]{2})(?:[-_](?:[A-Za-z]{2}|[A-Za-z]{4}|\d{3}))?")
KEY = "key:"  # a shared front-matter key: a lone one is reported
PATH = "path:"  # a path less its language code: every file has one, and a lone one means nothing


def language_code(value: object) -> str | None:
    """The ISO 639-1 code a language tag names ("pt-PT" is "pt"); None for anything else ("x-default")."""
    if not isinstance(value, str):
        return None
    match = _TAG.fullmatch(value.strip())
    code = match.group(1).lower() if match else None
    return code if code in lexicon.iso_639_1() else None


def read_declaration(source: str, markup: str, url: str | None, base: str | None = None) -> Declaration:
    """What the file ``source`` (its path in the folder; ``markup``: the file as read,
    ``url``: its own address) says of its translations."""
    keys = _path_keys(source)
    alternates: list[tuple[str, str]] = []
    lower = source.lower()
    if lower.endswith((".md", ".markdown")):
        fields = front_matter_fields(markup)
        for name in TRANSLATION_KEYS:
            value = fields.get(name)
            if isinstance(value, str) and value.strip():
                keys.append(KEY + value.strip())
    elif lower.endswith((".html", ".htm")):
        head = head_links(markup)
        if head is not None:
            for tag, href in head.alternates:
                code = language_code(tag)
                address = public_url(urljoin(url, href.strip()) if url else href, base)
                if code and address and (url is None or _address(address) != _address(url)):
                    alternates.append((code, address))
    return Declaration(tuple(dict.fromkeys(keys)), tuple(dict.fromkeys(alternates)))


def _path_keys(source: str) -> list[str]:
    """The names a file's translations' paths share with its own: its path less the
    language code of its name (``post.pt.md``) and of its folder (``pt/post.md``)."""
    path = PurePosixPath(source)
    stem, dot, code = path.stem.rpartition(".")
    name = f"{stem}{path.suffix}" if dot and stem and language_code(code) else path.name
    keys = [f"{PATH}{path.parent / name}"]
    folders = path.parent.parts
    at = next((i for i, part in enumerate(folders) if language_code(part)), None)
    if at is not None:
        keys.append(f"{PATH}{PurePosixPath(*folders[:at], '*', *folders[at + 1 :], name)}")
    return keys


def declared_pairs(documents: Sequence[Document]) -> dict[str, str]:
    """Each document a declaration makes a translation, with the document it
    translates: of each set of documents declared translations of each other,
    the first by source is the original, and the others point to it."""
    by_source = {d.source: d for d in documents}
    pairs: set[tuple[str, str]] = set()
    holders: dict[str, list[str]] = {}
    for doc in sorted(documents, key=lambda d: d.source):
        for key in doc.declared.keys:
            holders.setdefault(key, []).append(doc.source)
    for key, sources in holders.items():
        if len(sources) == 1 and key.startswith(KEY):
            log.info("%s: no other document has its translation key %r", sources[0], key.removeprefix(KEY))
        pairs.update(combinations(sources, 2))
    addresses: dict[str, str] = {}
    for doc in sorted(documents, key=lambda d: d.source):
        if doc.url:
            addresses.setdefault(_address(doc.url), doc.source)
    for doc in documents:
        for code, url in doc.declared.alternates:
            other = addresses.get(_address(url))
            if other is None:
                log.info("%s: its translation (hreflang %s) %s is not among the documents", doc.source, code, url)
            elif other != doc.source:
                pairs.add((min(doc.source, other), max(doc.source, other)))
    return _links(by_source, sorted(pairs))


def _links(by_source: dict[str, Document], pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The pairs joined into sets, each member pointing to the set's first; never two in one language."""
    parent = {source: source for pair in pairs for source in pair}

    def root(source: str) -> str:
        while parent[source] != source:
            source = parent[source]
        return source

    for a, b in pairs:
        if _one_language(by_source[a], by_source[b]):
            continue
        first, second = sorted((root(a), root(b)))
        parent[second] = first
    links: dict[str, str] = {}
    for source in sorted(parent):
        original = root(source)
        if source == original:
            continue
        if _one_language(by_source[source], by_source[original]):
            continue
        links[source] = original
    return links


def _one_language(a: Document, b: Document) -> bool:
    """Whether two documents declared translations are in one language (as detected), which is logged."""
    if a.language != b.language:
        return False
    log.warning("%s and %s are declared translations, but both are in %s: not recorded", a.source, b.source, a.language)
    return True


def _address(url: str) -> str:
    """A URL as an address to compare: without its scheme, "www." or a closing "/"."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    port = f":{parts.port}" if parts.port else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{port}{parts.path.rstrip('/')}{query}"
