"""Generated answers from an OpenAI-compatible model server, checked like any other.

Retrieval decides answerability first: with nothing relevant retrieved, no call
is made. Otherwise the model gets the fenced passages and answers in the
question's language with ``[n]`` markers. What it writes is then held to the
same rules as the extractive answer:

- markers that name no passage are dropped, the cited passages renumbered in
  order of first mention (``kb.answer.citations.renumber``), a marker naming several
  (``[1, 3]``, ``[1-3]``) written as one marker per passage; while streaming,
  markers are renumbered and the text tidied the same way as they arrive, so
  streamed text matches;
- a sentence whose markers all name passages that do not exist is dropped
  (``kb.answer.citations.drop_unsupported``);
- the exact ``NOT_COVERED`` reply becomes the not-covered answer, no citations;
- an answer with no valid marker, with a quotation that is in none of the
  passages it cites (``kb.answer.citations.unfound_quotations``), in another language
  than the question's, or that fails (server down, HTTP error, timeout,
  dropped or garbled stream) falls back to the extractive answer, with
  ``fallback: true`` and a notice that tells a model that could not be used
  (``fallback_notice``) from an answer set aside (``set_aside_*``).

Pieces already streamed before a fallback, a not-covered reply or a dropped
sentence cannot be taken back: the answerer then streams a blank line and the
text that replaces them, and the final ``Answer`` is authoritative.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from kb.answer.base import AnswerRequest, answer_once, answered, lead_in, not_covered
from kb.answer.citations import (
    MARKERS,
    PARTIAL_MARKERS,
    claim_spans,
    drop_unsupported,
    markers_for,
    renumber,
    tidy,
    unfound_quotations,
)
from kb.answer.extractive import ExtractiveAnswerer
from kb.answer.said import leave_out_said
from kb.answer.support import SupportChecker
from kb.answer.watch import foreign_script
from kb.i18n.lookup import message
from kb.index.embed import Embedder
from kb.llm.client import LLMError, build_chat_model, stream_with_deadline, timeouts
from kb.llm.prompts import NOT_COVERED, answer_messages
from kb.models import CORRECTION_SEPARATOR, Answer, Correction
from kb.settings import Settings
from kb.text import language as lang
from kb.text.sentences import without_quotations

log = logging.getLogger(__name__)

# Below this many words of the answer's own prose, its language is not judged.
MIN_WORDS_FOR_LANGUAGE = 6

# An answer needs this many words of its own (or quoted) to be one.
MIN_OWN_WORDS = 2
# An answer whose own word trigrams are at least this share of the prompt's is an echo.
ECHO_NGRAM = 3
ECHO_SHARE = 0.6

_MARKER_AT_END = re.compile(r"\[\d+\]$")
_SENTINEL_REPLY = re.compile(rf"^\W*{NOT_COVERED}\W*$")


class MarkerStream:
    """What the user sees of the model's reply while it streams.

    Markers are renumbered and the text tidied exactly as ``renumber`` will do
    it for the whole reply (valid numbers in order of first mention, one marker
    each, others dropped; a repeated marker collapsed; no space left before
    punctuation or doubled); a marker split across pieces, and white space that
    the next piece may show to be before punctuation or a dropped marker, are
    held until what follows arrives; a reply that may still turn out to be the
    ``NOT_COVERED`` sentinel is held until it cannot.
    """

    def __init__(self, passages: int) -> None:
        self.passages = passages
        self.order: dict[int, int] = {}
        self.pending = ""  # text of the reply not shaped yet
        self.held = ""  # shaped white space not shown yet
        self.released = False
        self.started = False
        self.last_marker = ""  # the marker the text shown so far ends with, if it does

    def feed(self, piece: str) -> str:
        self.pending += piece
        if not self.released:
            head = self.pending.strip()
            if NOT_COVERED.startswith(head) or _SENTINEL_REPLY.match(head):
                return ""
            self.released = True
        partial = PARTIAL_MARKERS.search(self.pending)
        cut = partial.start() if partial else len(self.pending)
        ready, self.pending = self.pending[:cut], self.pending[cut:]
        return self._shape(ready)

    def finish(self) -> str:
        if not self.released:
            return ""
        ready, self.pending = self.pending, ""
        return self._shape(ready, last=True)

    def _shape(self, ready: str, last: bool = False) -> str:
        text = self.held + MARKERS.sub(lambda match: markers_for(match, self.order, self.passages), ready)
        # White space at the end waits for what follows: punctuation, or a marker that may be dropped.
        shown = text.rstrip()
        self.held = "" if last else text[len(shown) :]
        shown = tidy(self.last_marker + shown)[len(self.last_marker) :]
        if not self.started:
            shown = shown.lstrip()
            self.started = bool(shown)
        if shown:
            end = _MARKER_AT_END.search(shown)
            self.last_marker = end.group(0) if end else ""
        return shown


_OPENING = {"“": "”", "«": "»", "„": "“”", "「": "」", "『": "』"}


def open_quotation(text: str) -> bool:
    """Whether ``text`` (a reply so far) ends inside a quotation."""
    for opening, closing in _OPENING.items():
        at = text.rfind(opening)
        if at >= 0 and not any(c in text[at + 1 :] for c in closing):
            return True
    return text.count('"') % 2 == 1


def is_not_covered(text: str) -> bool:
    return bool(_SENTINEL_REPLY.match(text.strip()))


def wrong_language(text: str, expected: str, ignore: Iterable[str] = ()) -> str | None:
    """The language the answer's own prose is in, when it is not ``expected``.

    Quotations (which stay in their source's language), markers and ``ignore``
    (loanwords the corpus shares across languages: "marketing", "omnichannel")
    are left out; too short a text, or a language detection does not cover,
    is not judged.
    """
    if expected not in lang.DETECTED:
        return None
    ignored = {w.casefold() for w in ignore}
    prose = " ".join(w for w in lang.words(MARKERS.sub(" ", without_quotations(text))) if w.casefold() not in ignored)
    if len(lang.words(prose)) < MIN_WORDS_FOR_LANGUAGE:
        return None
    found = lang.detect(prose, default=expected)
    return found if found != expected else None


def own_words(text: str) -> list[str]:
    """The words of an answer's own prose: markers and quotations left out."""
    return lang.words(MARKERS.sub(" ", without_quotations(text)))


def echoed_share(text: str, prompt: str) -> float:
    """The share of ``text``'s own word trigrams (words, for a shorter text) that ``prompt`` has too."""
    mine = [w.casefold() for w in own_words(text)]
    theirs = [w.casefold() for w in lang.words(prompt)]
    if not mine:
        return 0.0
    size = min(ECHO_NGRAM, len(mine))
    grams = [tuple(mine[i : i + size]) for i in range(len(mine) - size + 1)]
    known = {tuple(theirs[i : i + size]) for i in range(len(theirs) - size + 1)}
    return sum(g in known for g in grams) / len(grams)


def own_text_problem(text: str, request: AnswerRequest) -> str | None:
    """Why ``text`` (the cleaned reply) is no answer of the model's own, or None:
    empty or markers alone (``[1][2]``), or mostly the prompt's own words echoed
    (its instructions, the question)."""
    words = own_words(text)
    quoted = len(lang.words(MARKERS.sub(" ", text))) - len(words)
    if len(words) < MIN_OWN_WORDS and quoted < MIN_OWN_WORDS:
        return f"the model's answer has no text of its own: {text[:120]!r}"
    prompt = "\n".join(content for _, content in instructions(request))
    if len(words) >= MIN_OWN_WORDS and echoed_share(text, prompt) >= ECHO_SHARE:
        return f"the model's answer mostly repeats the prompt: {text[:120]!r}"
    return None


def instructions(request: AnswerRequest) -> list[tuple[str, str]]:
    """The prompt without the passages: what an echo would copy (quoting the passages is allowed)."""
    return answer_messages(
        request.question.text, request.query, request.language, (), request.unmentioned, brief=request.brief
    )


class GenerativeAnswerer:
    """Answers with a chat model (LangChain ``ChatOpenAI``), streaming, cited, checked."""

    mode = "generative"

    def __init__(
        self,
        settings: Settings,
        model: Any | None = None,
        shared_words: Callable[[], Iterable[str]] | None = None,
        embedder: Callable[[], Embedder] | None = None,
    ) -> None:
        """``shared_words``: the corpus's cross-language loanwords, ignored when judging the answer's language;
        ``embedder``: the index's embedder, for the support check (without one, requests carry no bar)."""
        self.settings = settings
        self.shared_words = shared_words or (lambda: ())
        self._embedder = embedder
        self._checker: SupportChecker | None = None
        self.limits = timeouts(settings)
        self.model = model or build_chat_model(settings, streaming=True)
        self.fallback = ExtractiveAnswerer()

    @property
    def checks_support(self) -> bool:
        """Whether each generated sentence is checked against the passages it cites
        (``kb.answer.support``, with the index's embedder): the knowledge base then
        hands the index's bar with each request."""
        return self._embedder is not None

    def checker(self) -> SupportChecker | None:
        if self._checker is None and self._embedder is not None:
            self._checker = SupportChecker(self._embedder())
        return self._checker

    # -- the model call -------------------------------------------------------
    def _pieces(self, request: AnswerRequest, insist: bool = False) -> Generator[str, None, None]:
        """Text pieces of the model's reply; ``LLMError`` on any failure or the deadline.
        ``insist``: the second try, with the stronger language instruction."""
        messages = answer_messages(
            request.question.text,
            request.query,
            request.language,
            request.hits,
            request.unmentioned,
            insist,
            brief=request.brief,
        )
        finish: list[str] = []

        def produce() -> Iterator[str]:
            for chunk in self.model.stream(messages):
                reason = chunk.response_metadata.get("finish_reason")
                if reason:
                    finish.append(str(reason))
                text = chunk.text
                if text:
                    yield str(text)

        yield from stream_with_deadline(
            produce, self.limits.total, first=self.limits.first_token, between=self.limits.between_tokens
        )
        if not finish:
            raise LLMError("the model server's stream ended before the answer was complete")

    # -- answering ------------------------------------------------------------
    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        request = leave_out_said(request)
        if not request.covered or not request.hits:
            # No model is asked: omnikb's own words, not a generated answer.
            answer = not_covered(request, ExtractiveAnswerer.mode)
            yield answer.answer
            yield answer
            return
        started = time.perf_counter()
        streamed: list[str] = []
        note = _note(request)
        if note:
            streamed.append(note)
            yield note
        timings = dict(request.timings_ms)
        attempt = _Attempt(started)
        yield from self._attempt(request, attempt, streamed)
        first = attempt
        if first.notice is not None and self.settings.llm_language_retry:
            # Set aside for its language: ask once more, with the stronger instruction. What the
            # first try streamed is replaced by what the second writes (or by the quotes).
            log.debug("asking the model once more, in its language: %s", first.failure)
            attempt = _Attempt(time.perf_counter())
            yield from self._attempt(request, attempt, streamed, insist=True, note=note)
            timings["retried"] = (attempt.started - started) * 1000
        done = time.perf_counter()
        timings["generate"] = (done - started) * 1000
        if first.first_token is not None:
            timings["first_token"] = (first.first_token - started) * 1000
        if first.stopped is not None:
            timings["stopped"] = (first.stopped - started) * 1000
        if attempt is not first and attempt.stopped is not None:
            timings["stopped_again"] = (attempt.stopped - started) * 1000
        notice = attempt.notice
        if attempt is not first and notice is not None:
            notice = "set_aside_retried"
        answer = self._verdict(request, attempt.text, attempt.failure, notice)
        if attempt is not first:
            why = f"asked again after: {first.failure}"
            answer = replace(answer, reason=f"{answer.reason}; {why}" if answer.reason else why)
        answer = replace(answer, timings_ms={**timings, **answer.timings_ms})
        if answer.mode != self.mode or not answer.answered or _words("".join(streamed)) != _words(answer.answer):
            # The streamed text, if any, is replaced (a fallback, a not-covered reply, or
            # sentences dropped for citing no passage): stream the replacement after a blank line.
            if streamed:
                yield Correction(CORRECTION_SEPARATOR + answer.answer, answer.language)
            else:
                yield answer.answer
        yield answer

    def _attempt(
        self, request: AnswerRequest, attempt: _Attempt, streamed: list[str], insist: bool = False, note: str = ""
    ) -> Iterator[str]:
        """One try of the model: its reply shaped as it streams (recorded in ``attempt``, the
        pieces shown appended to ``streamed``), stopped at once when it goes wrong.

        On a second try (``insist``), its first piece shown replaces what the first try
        streamed (a ``Correction`` that repeats ``note``), when that showed any of its text.
        """
        shaper = MarkerStream(len(request.hits))
        raw: list[str] = []
        replacing = insist and "".join(streamed) != note
        pieces = self._pieces(request, insist)

        def show(shown: str) -> str:
            nonlocal replacing
            if replacing:
                replacing = False
                streamed[:] = [note, shown]
                return Correction(CORRECTION_SEPARATOR + note + shown, request.language)
            streamed.append(shown)
            return shown

        try:
            for piece in pieces:
                if attempt.first_token is None:
                    attempt.first_token = time.perf_counter()
                raw.append(piece)
                early = self._gone_wrong("".join(raw), request)
                if early is not None:
                    # Stop the model at once (closing the stream closes its connection).
                    attempt.failure, attempt.notice = early
                    attempt.stopped = time.perf_counter()
                    break
                shown = shaper.feed(piece)
                if shown:
                    yield show(shown)
            else:
                shown = shaper.finish()
                if shown:
                    yield show(shown)
        except LLMError as exc:
            attempt.failure = str(exc)
        finally:
            pieces.close()
            attempt.text = "".join(raw)

    def _gone_wrong(self, text: str, request: AnswerRequest) -> tuple[str, str] | None:
        """Why the reply so far is going wrong, and the notice that says so; None while it is not.

        Letters of a script the question's language does not write are judged at
        once; the language, on the first sentence (once it is complete, or long).
        """
        if open_quotation(text):
            return None  # a quotation keeps its source's language and script: judged once it is closed
        script = foreign_script(text, request.language)
        if script is not None:
            return f"the model wrote {script} letters in a {request.language!r} answer", "set_aside_script"
        spans = claim_spans(text)
        if len(spans) < 2 and len(lang.words(text)) < 2 * MIN_WORDS_FOR_LANGUAGE:
            return None  # the first sentence is not complete yet
        first = text[spans[0][0] : spans[0][1]] if len(spans) >= 2 else text
        other = wrong_language(first, request.language, self.shared_words())
        if other is not None:
            return f"the model started in {other!r}, the question is in {request.language!r}", "set_aside_language"
        return None

    def _verdict(self, request: AnswerRequest, text: str, failure: str | None, notice: str | None = None) -> Answer:
        if failure is not None:
            return self._fall_back(request, failure, notice or "fallback_notice")
        if is_not_covered(text):
            return not_covered(request, self.mode)
        supported, dropped = drop_unsupported(text.replace(NOT_COVERED, ""), len(request.hits))
        if dropped:
            log.info("dropped %d sentence(s) citing only passages that do not exist: %r", len(dropped), dropped)
        cleaned, citations = renumber(supported, request.hits)
        if not citations:
            if NOT_COVERED in text:
                return not_covered(request, self.mode)
            return self._set_aside(request, f"no valid citation marker in the model's answer {text[:120]!r}")
        checker = self.checker()
        if request.support is not None and checker is not None and own_text_problem(cleaned, request) is None:
            checked = checker.check(
                supported,
                request.hits,
                request.support,
                question=f"{request.question.text}\n{request.query}",
                language=request.language,
                known=request.sentence_vectors,
            )
            if checked.dropped or checked.moved:
                log.info(
                    "support check: dropped %d sentence(s), pointed %d to the passage that says it",
                    len(checked.dropped),
                    len(checked.moved),
                )
                log.debug("unsupported: %r; moved: %r", checked.dropped, checked.moved)
            cleaned, citations = renumber(checked.text, request.hits)
            if not citations:
                return self._set_aside(request, "no sentence of the model's answer says what the passage it cites says")
            level = {request.hits[n - 1].chunk.id: v for n, v in checked.support.items()}
            citations = tuple(replace(c, support=level.get(c.chunk.id)) for c in citations)
            supported = checked.text
        problem = own_text_problem(cleaned, request)
        if problem is not None:
            return self._set_aside(request, problem)
        unfound = unfound_quotations(supported, request.hits)
        if unfound:
            return self._set_aside(request, f"a quotation is in none of the passages it cites: {unfound[0][:120]!r}")
        other = wrong_language(cleaned, request.language, self.shared_words())
        if other is not None:
            return self._fall_back(
                request,
                f"the model answered in {other!r}, the question is in {request.language!r}",
                "set_aside_language",
            )
        return answered(request, self.mode, _note(request) + cleaned, citations)

    def _set_aside(self, request: AnswerRequest, reason: str) -> Answer:
        """The quotes instead of an answer the model did write, which did not pass the checks
        (citations, quotations, support, words of its own): a notice that says so, not that
        the model could not be used."""
        return self._fall_back(request, reason, "set_aside_checks")

    def _fall_back(self, request: AnswerRequest, reason: str, notice: str = "fallback_notice") -> Answer:
        """The quotes instead; ``notice``: the message key saying why (the model failed, or was set aside)."""
        log.debug("generated answer unusable, answering extractively: %s", reason)
        answer = answer_once(self.fallback, request)
        return replace(answer, fallback=True, notice=message(notice, request.language), reason=reason)


@dataclass
class _Attempt:
    """One try of the model, as it went (``time.perf_counter`` times)."""

    started: float
    text: str = ""
    first_token: float | None = None
    stopped: float | None = None  # when it was stopped for going wrong
    failure: str | None = None  # why it is unusable (it failed, or was stopped)
    notice: str | None = None  # the message key when it was stopped for its language or script


def _words(text: str) -> str:
    return " ".join(text.split())


def _note(request: AnswerRequest) -> str:
    """Names the sources leave out, said in omnikb's own words before the model's answer."""
    return lead_in(request) + "\n" if request.unmentioned else ""
