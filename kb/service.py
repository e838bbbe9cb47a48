"""The knowledge base as every front door uses it: validate, retrieve, answer."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.answer import coverage, support
from kb.answer.base import Answerer, AnswerRequest
from kb.answer.coverage import Calibration, calibrate_generation
from kb.answer.extractive import ExtractiveAnswerer
from kb.errors import InputError, SourceNotFoundError
from kb.index.embed import Embedder, get_embedder
from kb.index.store import Store, StoredDocument, heartbeat
from kb.ingest.load import Reading
from kb.ingest.pipeline import IngestReport, Progress, Step, ingest
from kb.models import Answer, Document, Question
from kb.question import validate_question
from kb.search import examples
from kb.search.followup import asks_for_more, asks_in_short, borrowed_words, is_courtesy, standalone_query
from kb.search.names import unknown_names
from kb.search.outline import lead_with_outline
from kb.search.quotable import for_quoting
from kb.search.retrieve import CorpusIndex, Retriever
from kb.settings import MAX_TOP_K, Settings
from kb.text import language as lang
from kb.text.words import shown_name

if TYPE_CHECKING:
    from kb.llm.probe import ModelServerProbe

log = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = 6
# The conversation's language is read from this many of its last questions.
CONTEXT_TURNS = 3


@dataclass(frozen=True)
class Contents:
    """What one generation of the index holds: its documents by source, and its passage count."""

    generation: int
    documents: Mapping[str, StoredDocument]
    chunks: int


class KnowledgeBase:
    """Holds the store, the embedder and the retriever; one per process."""

    def __init__(
        self,
        settings: Settings,
        answerer: Answerer | None = None,
        condenser: Callable[[Question], str] | None = None,
    ) -> None:
        """The answerer is chosen here, once: a model's when ``settings`` name a model
        server (``KB_LLM_BASE_URL`` and ``KB_LLM_MODEL``), which then also rewrites
        follow-ups; otherwise verbatim quotes. ``answerer`` and ``condenser`` override."""
        self.settings = settings
        self._store: Store | None = None
        self._embedder: Embedder | None = None
        self._retriever: Retriever | None = None
        # Each loaded generation's calibration: the one answering and the one loading.
        self._calibrations: dict[int, Calibration] = {}
        self._supports: dict[int, support.SupportCalibration] = {}
        # The example questions of the generation that last asked for them.
        self._examples: tuple[int, tuple[examples.Example, ...]] | None = None
        self._examples_lock = threading.Lock()
        self._lock = threading.Lock()
        # Set when answers come from a model server: its state is part of the health report.
        self.model_server: ModelServerProbe | None = None
        if answerer is None and settings.llm_enabled:
            from kb.answer.generative import GenerativeAnswerer
            from kb.llm.client import ModelCondenser
            from kb.llm.probe import ModelServerProbe

            log.info("generative answers from %s (model %s)", settings.llm_base_url, settings.llm_model)
            answerer = GenerativeAnswerer(
                settings, shared_words=lambda: self.retriever.index().shared_words, embedder=lambda: self.embedder
            )
            condenser = condenser or ModelCondenser(settings)
            self.model_server = ModelServerProbe(settings)
        self.answerer: Answerer = answerer or ExtractiveAnswerer()
        # Turns a follow-up into a standalone query (a model, say); the rule in kb.search.followup by default.
        self.condenser: Callable[[Question], str] = condenser or standalone_query

    # -- parts, loaded on first use ----------------------------------------
    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings)
            return self._store

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings)
        return self._embedder

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            # A new generation's calibration is loaded with it, before questions reach it.
            self._retriever = Retriever(self.store, self.embedder, on_load=self.calibration)
        return self._retriever

    def warm_up(self) -> None:
        lang.warm_up()
        # A silent Chroma server is given up on in seconds, not after the 30 s a question
        # gives it, while holding the store's lock that the next health check waits on.
        heartbeat(self.settings)
        index = self.retriever.index()
        self.calibration()
        if self.checks_support:
            self.support_calibration(index)

    def watch(self) -> None:
        """Load each new generation in the background as soon as an ingest
        activates it (a server's first question after an ingest does not wait)."""
        self.retriever.watch()

    def calibration(self, index: CorpusIndex | None = None) -> Calibration:
        index = index or self.retriever.index()
        found = self._calibrations.get(index.generation)
        if found is None:
            found = self._stored_calibration(index)
            # The newest two: the generation answering and the one loading.
            kept = sorted({*self._calibrations, index.generation})[-2:]
            self._calibrations = {g: self._calibrations.get(g, found) for g in kept}
            log.info("answerability threshold %.3f", found.threshold)
        return found

    @property
    def checks_support(self) -> bool:
        """Whether the answerer checks generated sentences against their passages (it needs the bar)."""
        return bool(getattr(self.answerer, "checks_support", False))

    def support_calibration(self, index: CorpusIndex) -> support.SupportCalibration:
        """The bar for a generated sentence's support on ``index``: kept with the
        generation at ingest; computed (and kept) now for an index built without it."""
        found = self._supports.get(index.generation)
        if found is None:
            found = support.stored(self.store, self.embedder, index.generation)
            if found is None:
                found = support.calibrate(self.embedder, index.chunks, index.vectors, index.translations)
                try:
                    self.store.save_calibration(
                        index.generation, self.embedder.name, support.key(), found.to_json(), kind=support.KIND
                    )
                except Exception as exc:  # noqa: BLE001 - a read-only store still answers
                    log.warning("support calibration not stored with generation %s: %s", index.generation, exc)
            kept = sorted({*self._supports, index.generation})[-2:]
            self._supports = {g: self._supports.get(g, found) for g in kept}
        return found

    def _calibrate(self, store: Store, embedder: Embedder, generation: int) -> None:
        """What an ingest computes before a generation becomes active: answerability,
        and, when answers are generated, the support check's bar."""
        passages = store.passages(generation)  # read once for both
        calibrate_generation(store, embedder, generation, passages)
        if self.checks_support:
            support.calibrate_generation(store, embedder, generation, passages)

    def _stored_calibration(self, index: CorpusIndex) -> Calibration:
        """The calibration kept with the generation at ingest; an index older than
        that gets it computed now, and kept for every later start."""
        found = coverage.stored(self.store, self.embedder, index.generation)
        if found is not None:
            return found
        passages = [c.text for c in index.chunks]
        computed = coverage.calibrate(self.embedder, index.vectors, index.sparse, passages)
        try:
            self.store.save_calibration(index.generation, self.embedder.name, coverage.key(), computed.to_json())
        except Exception as exc:  # noqa: BLE001 - a read-only store still answers
            log.warning("answerability calibration not stored with generation %s: %s", index.generation, exc)
        return computed

    # -- questions ----------------------------------------------------------
    def prepare(self, question: Question) -> AnswerRequest:
        started = time.perf_counter()
        # One generation for the whole question, even if a re-ingest switches meanwhile.
        index = self.retriever.index()
        language = question.language or self._language(question, index)
        # A heading of the sources asked word for word (an example question the
        # chat offers, clicked mid-conversation) is complete: it borrows nothing.
        query = question.text if index.is_heading(question.text) else self.condenser(question)
        # A follow-up that asks for more ("Tell me more") names no subject to score
        # alone, nor one that could change the conversation's: it is the query it borrows.
        continues = query != question.text and asks_for_more(question.text)
        own = question.text if query != question.text and not continues else None
        # One that asks for it in short ("In short?") is answered with the gist, what was said included;
        # one that asks for more, with what the answers before it did not quote (kb.answer.said),
        # looked for further down the ranking.
        brief = continues and asks_in_short(question.text)
        more = continues and not brief
        depth = min(MAX_TOP_K, 2 * question.top_k) if more else question.top_k
        found = self.retriever.search(query, depth, language, index, own=own)
        retrieved = time.perf_counter()
        calibration = self.calibration(found.index)
        # A name the sources never mention ("Shopify", "SEO") is one they cannot speak to.
        names = unknown_names(question.text, language, index.vocabulary)
        bar = calibration.for_language(language)
        # Latent terms match less across languages: there the vectors' agreement counts too.
        across_languages = not index.written_in(language)
        # Greetings and thanks ask nothing, whatever the conversation before them.
        courtesy = is_courtesy(question.text)
        hits, listed = lead_with_outline(
            found.hits,
            question.text,
            language,
            index.chunks,
            index.row,
            index.outlines,
            lambda texts: self.embedder.encode(texts, is_query=True),
        )
        refused = courtesy or any(name.certain for name in names)
        # A follow-up that borrows the conversation's subject is lifted by it, on
        # the subject or not: off-topic probes that borrow it too say how far.
        borrowed_bar = (
            None
            if own is None or refused
            else coverage.borrowed_ceiling(
                self.embedder, found.index or index, bar.probes_in(language), borrowed_words(query, question.text)
            )
        )
        covered = not refused and bar.covers(
            found,
            borrowed=query != question.text,
            across_languages=across_languages,
            names_unknown=bool(names),
            borrowed_bar=borrowed_bar,
        )
        quoting = for_quoting(query, hits)
        return AnswerRequest(
            question=question,
            language=language,
            query=query,
            hits=quoting.hits,
            listed=listed,
            more=more,
            brief=brief,
            courtesy=courtesy,
            covered=covered,
            timings_ms={"retrieve": (retrieved - started) * 1000},
            missing=() if covered else tuple(name.text for name in names),
            unmentioned=tuple(name.text for name in names) if covered else (),
            support=self.support_calibration(found.index or index) if covered and self.checks_support else None,
            query_vector=found.vector,
            sentence_vectors=index.sentence_vectors,
            topic_terms=index.topic_terms,
            terms=quoting.terms,
            asks_amount=quoting.asks_amount,
        )

    @staticmethod
    def _language(question: Question, index: CorpusIndex) -> str:
        """The question's language; a short one that does not tell (a name
        alone) continues the conversation's, that of the last question asked,
        or is in the reader's own language when it opens the conversation."""
        asked = [turn.content for turn in question.history if turn.role == "user"]
        # Each of the last few questions continues the one before, if it tells
        # nothing itself ("?" after "¿Qué es omnicanal?" is still Spanish).
        context = question.reader_language
        for earlier in asked[-CONTEXT_TURNS:]:
            context = lang.detect(earlier, ignore=index.shared_words, context=context)
        return lang.detect(question.text, ignore=index.shared_words, context=context)

    def ask(self, question: Question) -> Answer:
        final: Answer | None = None
        for item in self.stream(question):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(self, question: Question) -> Iterator[str | Answer]:
        """Text pieces as they are ready, then the complete ``Answer``."""
        started = time.perf_counter()
        request = self.prepare(question)
        answering = time.perf_counter()
        for item in self.answerer.stream(request):
            if isinstance(item, Answer):
                done = time.perf_counter()
                timings = dict(item.timings_ms)
                timings["answer"] = (done - answering) * 1000
                timings["total"] = (done - started) * 1000
                # One INFO line per answer: how it was made and how long it took; never the question's text.
                log.info(
                    "answer mode=%s answered=%s fallback=%s language=%s %s%s",
                    item.mode,
                    str(item.answered).lower(),
                    str(item.fallback).lower(),
                    item.language,
                    " ".join(f"{name}={value:.0f}ms" for name, value in timings.items()),
                    f" reason={item.reason}" if item.reason else "",
                )
                if item.fallback:
                    # The reader is told by the answer's notice; the operator, at the default level, by this
                    # line: a model server that starts failing after startup is not missed. One line, whatever
                    # the reason quotes (a server's error text may hold line breaks).
                    log.warning(
                        "the generated answer fell back to quotes: %s",
                        " ".join(item.reason.split()) or "no reason given",
                    )
                log.debug("question %r, query %r", question.text, request.query)
                yield replace(item, timings_ms=timings)
            else:
                yield item

    # -- sources ------------------------------------------------------------
    def default_folder(self) -> Path:
        """What ``ingest`` reads when no folder is given: the folder of the last
        ingest, if it is still there, else ``KB_SEEDS_DIR``. A blog owner who
        indexed their own folder and runs ``python ingest.py`` again (as every
        "no index" message says) re-reads their folder, not the bundled seeds."""
        active = self.store.active()
        if active is not None and active.folder and Path(active.folder).is_dir():
            return Path(active.folder)
        return self.settings.seeds_dir

    def ingest(
        self,
        folder: Path | None = None,
        progress: Progress | None = None,
        reading: Reading | None = None,
        step: Step | None = None,
    ) -> IngestReport:
        """``progress``: told as passages are embedded; ``reading``: as files are read (``load_folder``);
        ``step``: of each step between (``kb.ingest.pipeline.ingest``)."""
        # The answerability calibration depends on the passages alone: computed once
        # per ingest and kept with the generation, not at every start of every reader.
        report = ingest(
            folder or self.default_folder(),
            self.settings,
            self.store,
            self.embedder,
            progress,
            self._calibrate,
            reading,
            step,
        )
        if self._retriever is not None:
            self._retriever.index(fresh=True)
        return report

    def contents(self) -> Contents:
        """What the index holds, for what searches nothing (``kb health``, ``kb sources``,
        ``kb show``): the loaded index's, when one is loaded (the generation questions are
        answered from); else read from the store's active generation, without building
        the in-memory index (seconds on a blog of a few hundred posts)."""
        retriever = self._retriever
        if retriever is not None and retriever.loaded_generation is not None:
            index = retriever.index()
            return Contents(index.generation, index.documents, len(index.chunks))
        active = self.store.require_active(self.embedder.name)
        documents = {d.source: d for d in self.store.documents(active.generation)}
        return Contents(active.generation, documents, self.store.chunk_count(active.generation))

    def sources(self) -> list[dict[str, Any]]:
        return [
            {"source": d.source, "title": d.title, "language": d.language, "characters": d.characters, "url": d.url}
            for d in sorted(self.contents().documents.values(), key=lambda d: d.source)
        ]

    def example_questions(self, limit: int = EXAMPLE_QUESTIONS, reader: str | None = None) -> list[str]:
        """Questions the articles ask themselves (their question headings) that
        the knowledge base answers, those the blog is most about first, a few
        from each article in turn (kb.search.examples), to suggest what to ask;
        for a ``reader`` of a language, those they read best first (their
        language, then their script). At most ``examples.PER_LANGUAGE`` of each
        language. Chosen once per index generation: every page load asks for them."""
        return examples.for_reader(self._example_questions(self.retriever.index()), limit, reader)

    def _example_questions(self, index: CorpusIndex) -> tuple[examples.Example, ...]:
        with self._examples_lock:
            cached = self._examples
            if cached is None or cached[0] != index.generation:
                ranked = examples.ranked(index, lambda texts: self.embedder.encode(texts, is_query=True))
                cached = (index.generation, examples.answered(ranked, self._covered))
                self._examples = cached
            return cached[1]

    def _covered(self, text: str) -> bool:
        """Whether ``text``, asked alone, is answered rather than refused."""
        try:
            request = self.prepare(validate_question(text, settings=self.settings))
        except InputError:
            return False
        return request.covered and bool(request.hits)

    def document(self, source: str) -> Document:
        contents = self.contents()
        if source not in contents.documents:
            # The same name in another Unicode form: macOS writes "café" decomposed,
            # a reader types it composed. Or the name as `kb sources` shows it, its
            # control characters escaped ("news\\nletter.txt"): what a reader can type.
            source = next((s for s in contents.documents if _same_name(s, source) or shown_name(s) == source), source)
        if source not in contents.documents:
            raise SourceNotFoundError(
                f"No source named {source!r}. `kb sources` or GET /api/sources lists the indexed documents."
            )
        doc = self.store.document(contents.generation, source)
        if doc is None:
            raise SourceNotFoundError(f"No source named {source!r}.")
        return doc

    def health(self) -> dict[str, Any]:
        """docs/contract.md's fields, then how answers are made: ``answers`` (the
        answerer's mode) and, with a model server, whether it can answer
        (``model_server``: ``status``, ``model``, ``detail``). ``status`` stays
        ``ok`` when it cannot: questions are still answered, with quotes.
        ``limits`` are the request's limits here (``KB_MAX_QUESTION_CHARS``,
        ``KB_MAX_HISTORY_TURNS``), which the widget follows.

        A Chroma server that does not answer its heartbeat within ``CHROMA_HEARTBEAT_SECONDS``
        is a ``StoreUnavailableError`` at once: a load balancer's check waits no longer.
        The counts are ``contents()``'s: no in-memory index is built for them."""
        heartbeat(self.settings)
        contents = self.contents()
        report: dict[str, Any] = {
            "status": "ok",
            "documents": len(contents.documents),
            "chunks": contents.chunks,
            "embedding_model": self.embedder.name,
            "answers": self.answerer.mode,
            "limits": {
                "question_chars": self.settings.max_question_chars,
                "history_turns": self.settings.max_history_turns,
                "history_turn_chars": self.settings.max_history_turn_chars,
            },
        }
        if self.model_server is not None:
            report["model_server"] = self.model_server.status().to_dict()
        return report


def _same_name(a: str, b: str) -> bool:
    return unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)
