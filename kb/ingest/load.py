"""Loading: files in a folder become cleaned ``Document``s; bad files are reported."""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kb.errors import IngestError, InputError
from kb.ingest.clean import PREFORMATTED, clean_text
from kb.ingest.declared import read_declaration
from kb.ingest.html import html_to_text
from kb.ingest.markdown import draft_setting, markdown_to_text
from kb.ingest.urls import SOURCES_FILE, Site, article_url, read_site
from kb.models import Document
from kb.text.language import detect
from kb.text.sentences import unwrapped

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
# Bump when cleaning, chunking or what is kept of a passage changes, so re-ingest rebuilds every document.
PIPELINE_VERSION = "20"


@dataclass(frozen=True)
class FileProblem:
    path: str
    reason: str
    # How many files this one report stands for (files that are not articles are counted together).
    files: int = 1
    # The file is an article that could not be read (not UTF-8, empty,
    # unreadable): its owner has to mend it. Not one for a file left out on
    # purpose (a draft, a repeat, a post's image, a page with no text, a file
    # over KB_MAX_FILE_BYTES).
    broken: bool = True
    # An empty file: a placeholder (Hugo's empty ``_index.md``) is not an article,
    # but an indexed article emptied by mistake is broken, and keeps its indexed version.
    empty: bool = False


class Unpublished(IngestError):
    """An article its owner has not published (a draft): left out, not broken."""


class OverSizeLimit(IngestError):
    """A file larger than ``KB_MAX_FILE_BYTES``: left out by its owner's setting, not broken."""


class NoArticleText(IngestError):
    """A file read well that holds no article: a section's page of front matter
    alone (Hugo's ``_index.md``), markup alone. Left out, not broken."""


class EmptyFile(NoArticleText):
    """A file of no bytes at all."""


@dataclass(frozen=True)
class Loaded:
    documents: tuple[Document, ...]
    problems: tuple[FileProblem, ...]


@dataclass(frozen=True)
class Reading:
    """Who is told while a folder is read (``kb ingest``'s progress): ``read`` before each
    article file and once after the last (files read, of all, the file), ``skipped`` with
    each problem as soon as it is found, in the order of ``Loaded.problems``. The ingest
    may learn more of a file later (a repeat of an indexed post, an indexed version kept)."""

    read: Callable[[int, int, str], None]
    skipped: Callable[[FileProblem], None]


def load_folder(
    folder: Path,
    max_bytes: int,
    site_url: str | None = None,
    reading: Reading | None = None,
    languages: Mapping[str, str] | None = None,
) -> Loaded:
    """Every article under ``folder``, subfolders included (a blog's export
    often keeps one folder per post). A document's source is its path
    relative to ``folder``; hidden files and folders are left out, and
    folder links are not followed (they could lead back up). Each document's
    public URL is found where the post or its site states it (``kb.ingest.urls``;
    ``site_url`` is the site's base URL, ``KB_SITE_URL``). ``reading`` is told
    of each file as it goes. ``languages``: the language already found for a
    file's content hash (an earlier ingest's), not detected again."""
    if not folder.exists():
        raise InputError(f"Folder not found: {folder}. Pass a folder of .txt/.md/.html articles.")
    if not folder.is_dir():
        raise InputError(f"Not a folder: {folder}. Pass a folder of .txt/.md/.html articles.")
    documents: list[Document] = []
    seen_hashes: dict[str, str] = {}
    paths, problems = article_paths(folder)
    site = read_site(folder, site_url)
    problems.extend(FileProblem(SOURCES_FILE, reason) for reason in site.problems)
    paths = [(path, source) for path, source in paths if source != SOURCES_FILE]
    articles = [(path, source) for path, source in paths if path.suffix.lower() in SUFFIXES]
    others = [source for path, source in paths if path.suffix.lower() not in SUFFIXES]
    if reading is not None:
        for problem in problems:
            reading.skipped(problem)
    for done, (path, source) in enumerate(articles):
        if reading is not None:
            reading.read(done, len(articles), source)
        found = _load_article(path, source, max_bytes, site, seen_hashes, languages or {})
        if isinstance(found, FileProblem):
            problems.append(found)
            if reading is not None:
                reading.skipped(found)
            continue
        seen_hashes[found.content_hash] = found.source
        documents.append(found)
    if reading is not None and articles:
        reading.read(len(articles), len(articles), articles[-1][1])
    for problem in _others(others):
        problems.append(problem)
        if reading is not None:
            reading.skipped(problem)
    # Not logged here: the front door reports each problem once (``kb ingest`` lists them),
    # with what the ingest learns later (a repeat of another post, an indexed version kept).
    return Loaded(tuple(documents), tuple(problems))


def _load_article(
    path: Path, source: str, max_bytes: int, site: Site, seen_hashes: Mapping[str, str], languages: Mapping[str, str]
) -> Document | FileProblem:
    """The article at ``path``, or why it is left out (``seen_hashes``: the sources of the texts read before)."""
    try:
        doc = load_file(path, max_bytes, source, site, languages)
    except (Unpublished, NoArticleText, OverSizeLimit) as exc:
        return FileProblem(source, str(exc), broken=False, empty=isinstance(exc, EmptyFile))
    except IngestError as exc:
        return FileProblem(source, str(exc))
    except Exception as exc:  # one bad article never stops the others
        log.exception("loading %s failed", source)
        return FileProblem(source, f"it could not be read as an article ({exc})")
    if doc.content_hash in seen_hashes:
        return FileProblem(source, f"same text as {seen_hashes[doc.content_hash]}", broken=False)
    return doc


def article_paths(folder: Path) -> tuple[list[tuple[Path, str]], list[FileProblem]]:
    """The files under ``folder`` with their sources (relative paths with
    "/"), sorted by source, hidden ones and linked folders left out; and the
    subfolders that could not be read."""
    found: list[tuple[Path, str]] = []
    unreadable: list[FileProblem] = []

    def report(error: OSError) -> None:
        where = Path(error.filename or folder)
        name = where.relative_to(folder).as_posix() if where.is_relative_to(folder) else str(where)
        unreadable.append(FileProblem(f"{name}/", f"cannot read this folder ({error.strerror or error})"))

    for root, folders, files in os.walk(folder, onerror=report, followlinks=False):
        folders[:] = [name for name in folders if not name.startswith(".")]
        base = Path(root)
        for name in files:
            path = base / name
            if name.startswith("."):
                continue
            if path.is_symlink() and not path.exists() and path.suffix.lower() in SUFFIXES:
                # A link to an article that is gone: the owner would not know it is left out.
                source = path.relative_to(folder).as_posix()
                unreadable.append(FileProblem(source, f"a link to {os.readlink(path)}, which does not exist"))
                continue
            if not path.is_file():
                continue
            found.append((path, path.relative_to(folder).as_posix()))
    return sorted(found, key=lambda item: item[1]), unreadable


# Past this many, files that are not articles (a post's images, say) are
# reported as one line rather than one each.
MAX_LISTED_OTHERS = 5


def _others(sources: list[str]) -> list[FileProblem]:
    reason = f"not one of {', '.join(SUFFIXES)}"
    if len(sources) <= MAX_LISTED_OTHERS:
        return [FileProblem(source, reason, broken=False) for source in sources]
    shown = ", ".join(sources[:3])
    return [FileProblem(f"{len(sources)} other files ({shown}, …)", reason, files=len(sources), broken=False)]


def load_file(
    path: Path,
    max_bytes: int,
    source: str | None = None,
    site: Site | None = None,
    languages: Mapping[str, str] | None = None,
) -> Document:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise OverSizeLimit(_too_big(size, max_bytes))
        # Read at most one byte over the limit: a file that grew since ``stat`` is not read whole.
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise IngestError(f"cannot read it ({exc.strerror or exc})") from exc
    if not raw:
        raise EmptyFile("the file is empty")
    if len(raw) > max_bytes:
        raise OverSizeLimit(_too_big(len(raw), max_bytes))
    return parse(source or path.name, raw, site, languages)


def _too_big(size: int, max_bytes: int) -> str:
    return f"{size} bytes is over the limit of {max_bytes} (KB_MAX_FILE_BYTES)"


# Text saved as UTF-16 or UTF-32 starts with its byte order mark (Windows'
# Notepad's "Unicode"); its NUL bytes are half of its characters, not a binary file's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


# An HTML page's own word on its encoding: <meta charset="…"> or the http-equiv form.
_DECLARED_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def declared_charset(raw: bytes) -> str | None:
    """The encoding an HTML page declares in its head, if Python knows it."""
    match = _DECLARED_CHARSET.search(raw[:4096])
    if match is None:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None


# Share of a UTF-16/UTF-32 file's characters that may be no text (undecodable, control
# characters, unassigned or private code points) before it is taken for a binary file:
# bytes that are not text decode mostly as such (a fifth of them or more), while a text
# saved as UTF-16 that one bad byte spoils has one.
MAX_NON_TEXT_SHARE = 0.05
_TEXT_CONTROLS = frozenset("\t\n\r\x0c")
_NON_TEXT_CATEGORIES = frozenset(("Cc", "Cn", "Co", "Cs"))


def _reads_as_text(raw: bytes, encoding: str) -> bool:
    """Whether ``raw``, which starts with ``encoding``'s byte order mark, is text in it."""
    sample = raw[:8192].decode(encoding, errors="replace")
    if not sample:
        return True
    odd = sum(
        1
        for ch in sample
        if ch == "\ufffd" or (ch not in _TEXT_CONTROLS and unicodedata.category(ch) in _NON_TEXT_CATEGORIES)
    )
    return odd <= MAX_NON_TEXT_SHARE * len(sample)


def decode(raw: bytes, html: bool = False) -> str:
    """The text of a file: UTF-8 (with or without a BOM), or UTF-16/UTF-32 with a BOM;
    an HTML page that is not UTF-8 in the encoding it declares (an old
    WordPress export saved on Windows says windows-1252)."""
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), None)
    if encoding:
        if not _reads_as_text(raw, encoding):
            # A picture or an archive whose first bytes happen to be a byte order mark ("FF FE").
            name = encoding.upper()
            raise IngestError(f"binary file, not text (it starts with {name}'s byte order mark; the rest is not text)")
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            name = encoding.upper()
            raise IngestError(f"not valid {name} (byte {exc.start}); save it as UTF-8 and ingest again") from exc
    if b"\x00" in raw[:8192]:
        raise IngestError("binary file (it contains NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        declared = declared_charset(raw) if html else None
        if declared is not None and declared != "utf-8":
            try:
                return raw.decode(declared)
            except UnicodeDecodeError:
                pass
        raise IngestError(f"not UTF-8 (byte {exc.start}); save it as UTF-8 and ingest again") from exc


def parse(source: str, raw: bytes, site: Site | None = None, languages: Mapping[str, str] | None = None) -> Document:
    """The article ``raw`` holds; ``languages``: the language already found for a content hash."""
    html = source.lower().endswith((".html", ".htm"))
    # Only a converter marks a listing's lines: a file's own marks (never text) go.
    decoded = decode(raw, html).replace(PREFORMATTED, "")
    markup = decoded
    if html:
        decoded = html_to_text(decoded)
    elif source.lower().endswith(".txt"):
        decoded = unwrapped(decoded)
    elif source.lower().endswith((".md", ".markdown")):
        # A draft is not published, so it is not indexed; indexed before, the re-ingest removes it.
        draft = draft_setting(decoded)
        if draft:
            raise Unpublished(f"a draft ({draft} in its front matter)")
        decoded = markdown_to_text(decoded)
    cleaned = clean_text(decoded)
    if not cleaned.text.strip():
        raise NoArticleText("no text left after cleaning (front matter or markup alone): not an article")
    digest = hashlib.sha256(PIPELINE_VERSION.encode() + b"\0" + raw).hexdigest()[:16]
    site = site or Site()
    url = article_url(source, markup, decoded, site)
    return Document(
        source=source,
        title=cleaned.title,
        # The same bytes read by the same pipeline are the same text: detecting its language
        # again took most of a re-ingest's reading (7 of 12 s on a 400-post blog).
        language=(languages or {}).get(digest) or detect(cleaned.text),
        text=cleaned.text,
        content_hash=digest,
        url=url,
        declared=read_declaration(source, markup, url, site.base),
    )
