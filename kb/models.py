"""Frozen dataclasses passed between the stages, and their contract form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from kb.text.sentences import Quotable

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Declaration:
    """What a file says of its translations, as a blog's tools write it (``kb.ingest.declared``)."""

    # Names it shares with its translations: its front matter's (Hugo's ``translationKey``,
    # ``key:…``), its path less a language code (``post.pt.md``, ``pt/post.md``: ``path:…``).
    keys: tuple[str, ...] = ()
    alternates: tuple[tuple[str, str], ...] = ()  # (language, URL) of each translation (hreflang)


@dataclass(frozen=True)
class Document:
    """A cleaned document: every chunk's offsets index into ``text``."""

    source: str
    title: str
    language: str
    text: str
    content_hash: str
    translation_of: str | None = None
    # The post's public address (http or https), where the post or its site states it.
    url: str | None = None
    # Which files it says translate it (read at ingest; not kept in the index).
    declared: Declaration = field(default_factory=Declaration, compare=False, repr=False)

    @property
    def characters(self) -> int:
        return len(self.text)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "title": self.title,
            "language": self.language,
            "characters": self.characters,
            "url": self.url,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "title": self.title,
            "language": self.language,
            "text": self.text,
            "url": self.url,
        }


@dataclass(frozen=True)
class Chunk:
    """A passage: ``text == document.text[start:end]``."""

    id: str
    source: str
    title: str
    language: str
    heading: str
    text: str
    start: int
    end: int
    ordinal: int
    url: str | None = None  # its document's

    def embedding_text(self) -> str:
        """What the embedder sees: the passage in the context of its article."""
        context = self.title
        if self.heading and self.heading not in self.text[: len(self.heading) + 8]:
            context = f"{self.title} — {self.heading}"
        return f"{context}\n{self.text}"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its scores; ``alternatives`` are its translations."""

    chunk: Chunk
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    alternatives: tuple[Chunk, ...] = ()
    # Its passage read for quoting (``kb.search.quotable``), once it is to be answered from.
    quotable: Quotable | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str


@dataclass(frozen=True)
class Question:
    """A validated question, as every front door hands it to the core."""

    text: str
    history: tuple[Turn, ...] = ()
    top_k: int = 5
    language: str | None = None
    # The reader's own language (their browser's Accept-Language, their
    # terminal's locale): the answer's language for a first question too
    # short to tell its own ("Worten?"). ``language`` overrides; this only hints.
    reader_language: str | None = None


@dataclass(frozen=True)
class Citation:
    id: int
    chunk: Chunk
    score: float
    alternatives: tuple[Chunk, ...] = ()
    # How well the generated sentences citing it say what it says: 0 (as another
    # article's sentences would) .. 1 (as its own sentences do); None for quotes.
    support: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = passage_dict(self.id, self.chunk, self.score, self.alternatives)
        if self.support is not None:
            data["support"] = round(self.support, 3)
        return data


def passage_dict(ident: int, chunk: Chunk, score: float, alternatives: tuple[Chunk, ...] = ()) -> dict[str, Any]:
    return {
        "id": ident,
        "source": chunk.source,
        "title": chunk.title,
        "language": chunk.language,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "score": round(float(score), 4),
        "chunk_id": chunk.id,
        "heading": chunk.heading,
        "url": chunk.url,
        "alternatives": [
            {
                "source": alt.source,
                "title": alt.title,
                "language": alt.language,
                "text": alt.text,
                "start": alt.start,
                "end": alt.end,
                "chunk_id": alt.id,
                "url": alt.url,
            }
            for alt in alternatives
        ],
    }


@dataclass(frozen=True)
class Answer:
    question: str
    language: str
    answered: bool
    mode: str
    answer: str
    citations: tuple[Citation, ...]
    passages: tuple[Hit, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone_query: str = ""
    notice: str | None = None
    fallback: bool = False
    # Why a generated answer was set aside, for the log (not part of the contract: it may quote the model).
    reason: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "question": self.question,
            "language": self.language,
            "answered": self.answered,
            "mode": self.mode,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [
                passage_dict(rank, hit.chunk, hit.score, hit.alternatives)
                for rank, hit in enumerate(self.passages, start=1)
            ],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "standalone_query": self.standalone_query,
            "fallback": self.fallback,
        }
        if self.notice:
            data["notice"] = self.notice
        return data


# Text streamed before a correction is separated from the correction by this.
CORRECTION_SEPARATOR = "\n\n"


class Correction(str):
    """A streamed piece that replaces everything streamed before it (a
    fallback, a not-covered reply, or the answer without its dropped
    sentences). It is text like any piece, so a client that shows the final
    answer in place of the stream needs nothing more; a terminal, which cannot
    take back what it printed, labels it (``language`` is the answer's)."""

    language: str

    def __new__(cls, text: str, language: str) -> Correction:
        piece = super().__new__(cls, text)
        piece.language = language
        return piece
