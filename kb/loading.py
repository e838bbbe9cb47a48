"""Loading: files in a folder become cleaned ``Document``s; bad files are reported."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from kb.cleaning import clean_text, html_to_text, markdown_to_text
from kb.errors import IngestError
from kb.language import detect
from kb.models import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
# Bump when cleaning or chunking changes, so re-ingest rebuilds every document.
PIPELINE_VERSION = "7"


@dataclass(frozen=True)
class FileProblem:
    path: str
    reason: str


@dataclass(frozen=True)
class Loaded:
    documents: tuple[Document, ...]
    problems: tuple[FileProblem, ...]


def load_folder(folder: Path, max_bytes: int) -> Loaded:
    if not folder.exists():
        raise IngestError(f"Folder not found: {folder}. Pass a folder of .txt/.md/.html articles.")
    if not folder.is_dir():
        raise IngestError(f"Not a folder: {folder}. Pass a folder of .txt/.md/.html articles.")
    documents: list[Document] = []
    problems: list[FileProblem] = []
    seen_hashes: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() not in SUFFIXES:
            problems.append(FileProblem(path.name, f"skipped: not one of {', '.join(SUFFIXES)}"))
            continue
        try:
            doc = load_file(path, max_bytes)
        except IngestError as exc:
            problems.append(FileProblem(path.name, str(exc)))
            continue
        except Exception as exc:  # one bad article never stops the others
            log.exception("loading %s failed", path.name)
            problems.append(FileProblem(path.name, f"skipped: it could not be read as an article ({exc})"))
            continue
        if doc.content_hash in seen_hashes:
            problems.append(FileProblem(path.name, f"skipped: same text as {seen_hashes[doc.content_hash]}"))
            continue
        seen_hashes[doc.content_hash] = doc.source
        documents.append(doc)
    for problem in problems:
        log.warning("%s: %s", problem.path, problem.reason)
    return Loaded(tuple(documents), tuple(problems))


def load_file(path: Path, max_bytes: int) -> Document:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(_too_big(size, max_bytes))
        # Read at most one byte over the limit: a file that grew since ``stat`` is not read whole.
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise IngestError(f"skipped: cannot read it ({exc.strerror or exc})") from exc
    if not raw:
        raise IngestError("skipped: the file is empty")
    if len(raw) > max_bytes:
        raise IngestError(_too_big(len(raw), max_bytes))
    return parse(path.name, raw)


def _too_big(size: int, max_bytes: int) -> str:
    return f"skipped: {size} bytes is over the limit of {max_bytes} (KB_MAX_FILE_BYTES)"


def parse(source: str, raw: bytes) -> Document:
    if b"\x00" in raw[:8192]:
        raise IngestError("skipped: binary file (it contains NUL bytes)")
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"skipped: not UTF-8 (byte {exc.start}); save it as UTF-8 and ingest again") from exc
    if source.lower().endswith((".html", ".htm")):
        decoded = html_to_text(decoded)
    elif source.lower().endswith((".md", ".markdown")):
        decoded = markdown_to_text(decoded)
    cleaned = clean_text(decoded)
    if not cleaned.text.strip():
        raise IngestError("skipped: no text left after cleaning")
    digest = hashlib.sha256(PIPELINE_VERSION.encode() + b"\0" + raw).hexdigest()[:16]
    return Document(
        source=source,
        title=cleaned.title,
        language=detect(cleaned.text),
        text=cleaned.text,
        content_hash=digest,
    )
