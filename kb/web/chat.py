"""The Gradio chat (``create_app``) and the one server that carries it and the API (``build_server``)."""

from __future__ import annotations

import html
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.errors import KBError, error_bytes, shown_to_client
from kb.i18n.lookup import ui, ui_language
from kb.index.fair import serving
from kb.models import Answer, Question
from kb.question import forbidden_character, trimmed, validate_question, visible_controls
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.text import language as lang
from kb.web.chat_render import (
    answer_html,
    error_html,
    partial_html,
    question_html,
    sources_panel,
    sources_section,
    thinking_html,
)
from kb.web.chat_session import STORAGE_KEY, BrowserCopy, ChatSession, chat_key
from kb.web.feedback import FeedbackStore
from kb.web.guard import (
    MAX_WAITING_PER_CLIENT,
    WAITING_RETRY_AFTER,
    ClientCounter,
    RateLimiter,
    question_cost,
)
from kb.web.openai_compat import is_v1_path
from kb.web.paths import is_api_path

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# Chat answers under way at once; more wait in Gradio's queue (first come, first served). The
# embedder serves them in turns by address (kb.index.fair), and one address holds at most
# MAX_WAITING_PER_CLIENT of them, so another's question finds a worker free.
CONCURRENT_ANSWERS = 2 * MAX_WAITING_PER_CLIENT
UNEXPECTED = "Something went wrong while answering; please try again. The server log has the details."
RATINGS: dict[bool | str, bool] = {True: True, False: False, "Like": True, "Dislike": False}
# What the chat page itself sends besides GETs: its events join Gradio's queue (and may be
# cancelled or reset); an example's click runs unqueued through /run/predict, which Gradio
# refuses for queued events. Every other write route Gradio mounts (file upload, recordings,
# component servers, run history, vibe editing, login, the /call and /api event endpoints) is
# refused: this server takes questions, not files or edits.
CHAT_WRITES = frozenset(
    {"/gradio_api/queue/join", "/gradio_api/run/predict", "/gradio_api/cancel", "/gradio_api/reset"}
)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The chat's events that name a function of the page (``fn_index``) and carry its inputs.
CHAT_EVENTS = frozenset({"/gradio_api/queue/join", "/gradio_api/run/predict"})
# A chat event's body is checked only while it is this small (the body limit refuses larger ones).
MAX_EVENT_BYTES = 128 * 1024
RELOAD = "Reload the page and try again."
# An over-long question is echoed this far, with the reason it was refused.
ECHOED_CHARS = 280
# A refused question tells its language when it has this many different letters ("xxxx…" does not).
MIN_TELLING_LETTERS = 5


def _updates(
    session: ChatSession, clear_box: bool = False, busy: bool = False, stored: Any = None, typed: str | None = None
) -> tuple[Any, ...]:
    """Outputs in the order of ``outputs=`` below: chat, session, panel, box, ask button, clear button,
    the browser's copy of the conversation, example questions (their label).

    The chat shows only what the server rendered (``session.messages``), or what it signed
    for the browser to keep (``web_session``), never what a browser made up.
    While an answer is coming (``busy``), the Ask button is off: a second question would not be asked.
    ``stored``: a new copy for the browser (None leaves its copy as it is); ``typed``: text for the box.
    """
    language = session.ui_language
    # The box's name (read by a screen reader; its placeholder is no label) is said in the page's language.
    placeholder, label = ui("placeholder", language), ui("question_label", language)
    box: Any = gr.update(placeholder=placeholder, label=label)
    if clear_box or typed is not None:
        box = gr.update(value=typed or "", placeholder=placeholder, label=label)
    return (
        list(session.messages),
        session,
        sources_panel(session.sections, language),
        box,
        gr.update(value=ui("ask", language), interactive=not busy),
        gr.update(value=ui("clear", language)),
        gr.skip() if stored is None else stored,
        gr.update(label=ui("examples", language)),
    )


class ChatHandlers:
    """The chat's event handlers, around one knowledge base and one feedback store."""

    def __init__(self, settings: Settings, kb: KnowledgeBase, limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        self.kb = kb
        self.feedback = FeedbackStore(settings.feedback_path)
        # The API's per-address limit: the chat's questions count against it too (through
        # Gradio's queue, a client could ask as often as it liked), and so does its cap
        # on questions under way at once (each holds one of the chat's workers).
        self.limiter = limiter
        self.under_way = ClientCounter()
        self.copies = BrowserCopy(chat_key(settings.data_dir))
        # The page's load and a question sent before it landed both read the browser's copy
        # into the tab's session: whichever comes first does, the other finds it done.
        self._settling = threading.Lock()

    def _document_text(self, source: str) -> str | None:
        """The article around a cited passage; None (the passage alone is shown) if it cannot be read."""
        try:
            return self.kb.document(source).text
        except KBError:
            return None
        except Exception:  # the store failing must not lose an answer already given
            log.exception("reading %s for the sources panel failed", source)
            return None

    def _session(self, session: ChatSession | None, stored: Any) -> ChatSession:
        """The tab's session, the browser's copy read into it first if no event of the tab has
        (after a server restart, or before the page's load has landed)."""
        with self._settling:
            session = session if session is not None else ChatSession()
            if not session.settled:
                restored, _ = self.copies.load(stored)
                if restored is not None:
                    session.adopt(restored)
                session.settled = True
            return session

    def respond(
        self, text: str, session: ChatSession | None, stored: Any = None, request: gr.Request | None = None
    ) -> Iterator[tuple[Any, ...]]:
        session = self._session(session, stored)
        limit = self.settings.max_history_turns
        typed = trimmed(text) if isinstance(text, str) else ""
        if not typed:
            # Nothing was asked, so nothing joins the conversation: in it, the notice
            # would join the last answer's bubble (and its rating buttons).
            _toast("warning", "empty_question", session.ui_language)
            yield _updates(session)
            return
        try:
            question = validate_question(text, session.history[-limit:], None, None, self.settings)
            # The browser's languages: the answer's for a first question too short to tell its own.
            headers = request.headers if request is not None else {}
            question = replace(question, reader_language=lang.preferred(headers.get("accept-language")))
        except KBError as exc:
            problem = shown_to_client(exc)
            # What cannot be shown is shown by its symbol ("␇"), so the reader sees where it is.
            shown = visible_controls(text)
            # Said in the question's language, when its letters tell one ("xxxx…" does
            # not; Chinese and Japanese have no spaces between words to count). A word said
            # again tells no more ("omnicanal omnicanal…" is one word: the conversation's language).
            telling = len({c for c in typed if c.isalpha()}) >= MIN_TELLING_LETTERS
            once = " ".join(dict.fromkeys(shown.split()))
            language = lang.detect(once, context=session.language) if telling else session.language
            labels = ui_language(language, _traditional(typed, session.traditional))
            bad = forbidden_character(typed)
            if len(typed) > self.settings.max_question_chars:
                problem = ui("long_question", labels).format(n=len(typed), limit=self.settings.max_question_chars)
                # Its opening is enough to recognise it: the whole of it filled the chat.
                shown = visible_controls(typed[:ECHOED_CHARS]) + "…"
            elif bad is not None:
                problem = ui("control_character", labels).format(char=f"U+{ord(bad[1]):04X}", position=bad[0] + 1)
            session.show("user", question_html(shown))
            session.show("assistant", error_html(problem))
            yield _updates(session, stored=self.copies.save(session))
            return
        client = request.client if request is not None else None
        address = client.host if client is not None else "unknown"
        if self.limiter is None or not self.limiter.enabled:  # no limit, no cap (KB_RATE_LIMIT=0)
            yield from self._answer(question, session, stored, address)
            return
        if not self.under_way.enter(address, MAX_WAITING_PER_CLIENT):
            _toast("warning", "rate_limited", session.ui_language, s=WAITING_RETRY_AFTER)
            yield _updates(session)
            return
        try:
            allowed, retry_after = self.limiter.hit(address, question_cost(question.text))
            if not allowed:
                _toast("warning", "rate_limited", session.ui_language, s=retry_after)
                yield _updates(session)
                return
            yield from self._answer(question, session, stored, address)
        finally:
            self.under_way.leave(address)

    def _answer(self, question: Question, session: ChatSession, stored: Any, address: str) -> Iterator[tuple[Any, ...]]:
        # The browser keeps the question until its answer comes: if the server dies meanwhile,
        # the reader finds it back in the box.
        before = self.copies.save(session, pending=question.text)
        session.show("user", question_html(question.text))
        # Said in the question's language (the answer's is known only when it comes).
        waiting = lang.detect(question.text, context=session.language or question.reader_language)
        session.show("assistant", thinking_html(ui_language(waiting, _traditional(question.text, session.traditional))))
        yield _updates(session, clear_box=True, busy=True, stored=before)
        pieces: list[str] = []
        final: Answer | None = None
        try:
            answering = self.kb.stream(question)
            while True:
                # The work is the address's (kb.index.fair); set for each step, as Gradio runs
                # each step of this generator in a thread of its own.
                with serving(address):
                    item = next(answering, None)
                if item is None:
                    break
                if isinstance(item, Answer):
                    final = item
                    break
                pieces.append(item)
                session.show("assistant", partial_html("".join(pieces)), replace_last=True)
                yield _updates(session, busy=True)
        except KBError as exc:
            final = None
            session.show("assistant", error_html(shown_to_client(exc)), replace_last=True)
        except Exception:
            log.exception("answering %r failed", question.text[:80])
            session.show("assistant", error_html(UNEXPECTED), replace_last=True)
        if final is None:
            yield _updates(session, stored=self.copies.save(session))
            return
        turn = len(session.messages) - 1
        numbered = session.trimmed + turn  # in the markers' links, from the conversation's start
        session.language = final.language
        if final.language == "zh":
            session.traditional = _traditional(question.text, session.traditional)
        session.history += [{"role": "user", "content": question.text}, {"role": "assistant", "content": final.answer}]
        session.answers[turn] = final.to_dict()
        if final.citations:
            # Every answer shown keeps its section: its [n] markers open their passages however old.
            section = sources_section(final, numbered, self._document_text, session.ui_language)
            session.sections = [*session.sections, section]
        session.messages[-2] = {"role": "user", "content": question_html(question.text, final.language)}
        session.show("assistant", answer_html(final, numbered), replace_last=True)
        yield _updates(session, stored=self.copies.save(session))

    def rate(self, data: gr.LikeData, session: ChatSession | None, stored: Any = None) -> tuple[ChatSession, Any]:
        """One rating per answer: a changed mind replaces it (each click was a row
        of its own, so a Like then a Dislike counted one of each), a rating taken back removes it."""
        session = self._session(session, stored)
        index = int(data.index[0] if isinstance(data.index, (list, tuple)) else data.index)
        answer = session.answers.get(index)
        if answer is None or not answer.get("answered", True):
            # No answer, or a refusal: nothing to rate (the page shows no thumbs under one).
            return session, gr.skip()
        liked = RATINGS.get(data.liked) if isinstance(data.liked, (bool, str)) else None
        row = session.ratings.get(index)
        if liked is None:  # a rating taken back, or a feedback option we do not store
            if row is not None:
                self.feedback.remove(row)
                del session.ratings[index]
            return session, self.copies.save(session)
        if row is None:
            session.ratings[index] = self.feedback.add(answer, liked)
        else:
            self.feedback.change(row, liked)
        language = session.ui_language if session.language == answer.get("language") else answer.get("language")
        _toast("info", "thanks_up" if liked else "thanks_down", language)
        return session, self.copies.save(session)

    def _examples(self, reader: str | None = None) -> list[str]:
        """The articles' own question headings, those ``reader`` reads best first; none before the first ingest."""
        try:
            return self.kb.example_questions(reader=reader)
        except KBError as exc:
            log.info("no example questions: %s", exc)
            return []

    def examples(self, language: str | None = None, questions: list[str] | None = None) -> Any:
        """The example questions of the index as it is when the page loads
        (read then, so the server starts without waiting for the index)."""
        samples = [[question] for question in (self._examples() if questions is None else questions)]
        return gr.Dataset(samples=samples, visible=bool(samples), label=ui("examples", language))

    def load(
        self, session: ChatSession | None, stored: Any = None, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        """The page as it opens: the conversation the browser kept (a question that was still
        being answered back in the box), labels in the browser's language (they were English
        until the first answer), and the example questions of the index as it is now.

        A question the reader sent before the load landed has already read the browser's copy
        into the tab's session and added to it: the load then brings the examples only (it put
        back the copy as it was, wiping the question and its answer)."""
        self._examples()  # may wait for the index: the tab's session is looked at after
        with self._settling:
            session = session if session is not None else ChatSession()
            if session.settled:
                kept = _updates(session)[:-1]
                return (*(gr.skip() for _ in kept), self._reader_examples(session))
            restored, pending = self.copies.load(stored)
            if restored is not None:
                session.adopt(restored)
            elif request is not None:
                tag = lang.preferred_tag(request.headers.get("accept-language"))
                if session.language is None and tag is not None:
                    session.language = tag.split("-")[0]
                    session.traditional = lang.traditional_tag(tag)
            session.settled = True
            updates = _updates(session, typed=pending or None)
        return (*updates[:-1], self._reader_examples(session))

    def _reader_examples(self, session: ChatSession) -> Any:
        """The examples, in the order the tab's reader reads them best (read again: the index keeps
        them), kept in the tab's session for its clicks."""
        session.examples = self._examples(session.language)
        return self.examples(session.ui_language, session.examples)

    def example(self, index: int | None, session: ChatSession | None = None) -> Any:
        """The question of the example clicked, by its number in the tab's own list."""
        questions = session.examples if session is not None and session.examples else self._examples()
        if not isinstance(index, int) or isinstance(index, bool):  # no example's number: nothing to do
            return gr.update()
        return questions[index] if 0 <= index < len(questions) else gr.update()

    def clear(self, session: ChatSession | None = None) -> tuple[Any, ...]:
        """A new conversation, in the language the page speaks now (it went back to English);
        the browser forgets the old one."""
        fresh = ChatSession(settled=True)  # a load landing after it must not bring the old one back
        if session is not None:
            # The page still shows the same examples, in the same order.
            fresh.language, fresh.traditional, fresh.examples = session.language, session.traditional, session.examples
        return _updates(fresh, clear_box=True, stored=self.copies.save(fresh))


def _toast(level: str, key: str, language: str | None, **values: object) -> None:
    """A notice said, and titled, in the page's language (Gradio titled it "Info" or "Warning" in English)."""
    text = ui(key, language).format(**values) if values else ui(key, language)
    if level == "warning":
        gr.Warning(text, title=ui("toast_warning", language))
    else:
        gr.Info(text, title=ui("toast_info", language))


def _traditional(text: str, otherwise: bool) -> bool:
    """Whether Chinese ``text`` is in Traditional characters; ``otherwise`` when its characters do not tell."""
    told = lang.writes_traditional(text)
    return otherwise if told is None else told


def chat_theme() -> gr.themes.Base:
    """Gradio's own look, the Ask button's orange dark enough for its white text (4.5:1 at least):
    Gradio's made it 2.8:1, 3.6:1 on a dark page."""
    return gr.themes.Default().set(
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_hover_dark="*primary_800",
        button_primary_border_color="*primary_700",
        button_primary_border_color_dark="*primary_700",
        button_primary_border_color_hover="*primary_800",
        button_primary_border_color_hover_dark="*primary_800",
    )


def create_app(settings: Settings, kb: KnowledgeBase | None = None, limiter: RateLimiter | None = None) -> gr.Blocks:
    """The chat page as Gradio Blocks (mounted by ``build_server``, driven by tests)."""
    if kb is None:
        kb = KnowledgeBase(settings)
    handlers = ChatHandlers(settings, kb, limiter)
    name = settings.site_name.strip()
    with gr.Blocks(title=name, analytics_enabled=False) as app:
        gr.HTML(
            f'<div class="kb-header"><h1>{html.escape(name)}</h1><a href="docs">API</a></div>',
            elem_id="kb-header",
            padding=False,
        )
        session = gr.State(ChatSession())
        # The conversation as the browser keeps it (localStorage): a reload or a restart restores it.
        stored = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=handlers.copies.secret)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    elem_id="kb-chat",
                    height=560,
                    render_markdown=False,
                    sanitize_html=True,
                    allow_tags=False,
                    latex_delimiters=[],
                    feedback_options=("Like", "Dislike"),
                    buttons=["copy"],
                    show_label=False,
                )
                with gr.Row():
                    box = gr.Textbox(
                        elem_id="kb-question",
                        # Hidden, but the box's accessible name (Gradio named it "Textbox").
                        label=ui("question_label", None),
                        placeholder=ui("placeholder", None),
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=5,
                        autofocus=True,
                    )
                    ask = gr.Button(ui("ask", None), elem_id="kb-ask", variant="primary", scale=1)
                examples = gr.Dataset(
                    components=[box],
                    samples=[],
                    type="index",
                    label=ui("examples", None),
                    visible=False,
                    elem_id="kb-examples",
                )
                clear = gr.Button(ui("clear", None), elem_id="kb-clear", size="sm", variant="secondary")
            with gr.Column(scale=2):
                panel = gr.HTML(sources_panel([], None), elem_id="kb-sources", padding=False)
        outputs = [chatbot, session, panel, box, ask, clear, stored, examples]
        answering: list[Any] = [
            trigger(
                handlers.respond,
                inputs=[box, session, stored],
                outputs=outputs,
                show_progress="hidden",
                concurrency_limit=CONCURRENT_ANSWERS,
                concurrency_id="answer",
            )
            for trigger in (box.submit, ask.click)
        ]
        examples.click(handlers.example, inputs=[examples, session], outputs=[box], show_progress="hidden")
        app.load(handlers.load, inputs=[session, stored], outputs=outputs, show_progress="hidden")
        chatbot.like(handlers.rate, inputs=[session, stored], outputs=[session, stored])
        # A new conversation stops the answer under way: finished, it brought the old conversation back.
        clear.click(handlers.clear, inputs=[session], outputs=outputs, cancels=answering)
        chatbot.clear(handlers.clear, inputs=[session], outputs=outputs, cancels=answering)
    return app


class ChatWritesOnly:
    """Refuse every non-GET request outside ``/api/`` except the chat's own events (``CHAT_WRITES``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        root = str(scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :]
        # The API's own paths, however written (`//api/ask`, `/Api/ask`), are the API's to answer; so are /v1's.
        if is_api_path(path) or is_v1_path(path) or path.rstrip("/") in CHAT_WRITES:
            await self.app(scope, receive, send)
            return
        log.info("refused %s %s: not an endpoint of this server", scope["method"], path)
        message = (
            f"{scope['method']} {path} is not offered: this server takes no uploads or edits. "
            "Ask questions with POST /api/ask; see /docs."
        )
        body = error_bytes("not_found", message)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _chat_path(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


class ChatEventCheck:
    """Refuse, with a 422 in the error shape, a chat event the page could not have sent: one that
    names no function of the page (Gradio answered a plain-text 500 and logged a ``KeyError``), lacks
    the function's inputs, or rates with event data that is no rating (Gradio answered with the
    exception's own text, "invalid literal for int()…").

    The body is looked at as the route reads it, so the body limit and deadline still apply; a
    refused event's route then reads a disconnect and its own answer is dropped.
    """

    def __init__(self, app: ASGIApp, blocks: gr.Blocks) -> None:
        self.app = app
        self.blocks = blocks
        self.ratings = frozenset(
            index for index, fn in blocks.fns.items() if any(target[1] == "like" for target in fn.targets)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _chat_path(scope).rstrip("/") not in CHAT_EVENTS:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        refused = False

        async def checked() -> Message:
            nonlocal refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request" or len(body) > MAX_EVENT_BYTES:
                return message
            body.extend(message.get("body", b""))
            if message.get("more_body", False) or len(body) > MAX_EVENT_BYTES:
                return message
            problem = self.problem(bytes(body))
            if problem is None:
                return message
            refused = True
            log.info("refused a chat event: %s", problem)
            payload = error_bytes("invalid_event", problem)
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": 422, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return {"type": "http.disconnect"}

        async def send_unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, checked, send_unless_refused)

    def problem(self, body: bytes) -> str | None:
        """What is wrong with a chat event's body, said for a person; None if nothing is."""
        try:
            event = json.loads(body)
        except ValueError:
            return f"The chat event is not valid JSON. {RELOAD}"
        if not isinstance(event, dict):
            return f"The chat event must be a JSON object. {RELOAD}"
        index = event.get("fn_index")
        fn = self.blocks.fns.get(index) if isinstance(index, int) and not isinstance(index, bool) else None
        if fn is None:
            return f"This page has no event number {ascii(index)[:40]}. {RELOAD}"
        data = event.get("data")
        if not isinstance(data, list) or (not fn.cancels and len(data) < len(fn.inputs)):
            return f"The chat event must carry a list of its {len(fn.inputs)} input values. {RELOAD}"
        if index in self.ratings and not _is_rating(event.get("event_data")):
            return (
                "A rating needs the number of the answer it rates (`index`), its text (`value`) and "
                f"`liked` (true or false). {RELOAD}"
            )
        return None


def _is_rating(data: Any) -> bool:
    """Whether a like event's data is one the chat's rating can read (``gr.LikeData``)."""
    if not isinstance(data, dict) or "value" not in data:
        return False
    index = data.get("index")
    numbers = index if isinstance(index, list) and 1 <= len(index) <= 2 else [index]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        return False
    return isinstance(data.get("liked", True), (bool, str, type(None)))


def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def build_server(settings: Settings, kb: KnowledgeBase | None = None) -> FastAPI:
    """The JSON API with the chat mounted at ``/``: one app, one port."""
    from kb.web.api import create_api

    if kb is None:
        kb = KnowledgeBase(settings)
    api = create_api(settings, kb)
    blocks = create_app(settings, kb, getattr(api.state, "rate_limiter", None))
    server = gr.mount_gradio_app(
        api,
        blocks,
        path="/",
        footer_links=[],
        # Gradio's run history kept every event's inputs and outputs (whole conversations, unsigned) in
        # localStorage, up to 100 runs: enough to fill the quota the chat's own copy needs.
        run_history=False,
        theme=chat_theme(),
        css=_asset("chat.css"),
        head=f"<script>{_asset('chat.js')}</script>",
        ssr_mode=False,
        # An event that fails unexpectedly says "Error", not the exception's text (the log has it).
        show_error=False,
    )
    server.add_middleware(ChatEventCheck, blocks=blocks)
    server.add_middleware(ChatWritesOnly)  # added last, so it runs first
    return server
