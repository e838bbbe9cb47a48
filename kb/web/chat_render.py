"""HTML for the chat page, built from escaped text only.

Questions, answers and passages are never trusted as markup: every piece is
``html.escape``d, and the only tags are the ones written here (paragraphs,
lists, ``[n]`` marker links, ``<mark>`` around quoted sentences, a link to
the post at the quote when its URL is known, http(s) only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

from kb.answer.citations import MARKER
from kb.answer.links import QUOTE, citation_link, find_spans, quoted_segments
from kb.i18n.lookup import DEFAULT, UI, language_name, message, ui
from kb.models import Answer, Citation
from kb.text.language import is_rtl

# Gradio's own notices the chat can meet (the connection lost, the server unreachable or busy, an
# error without a message): in English whatever the page speaks, so the page's script says them
# in its words, which the sources panel carries (``data-connection-lost``…).
GRADIO_NOTICES = ("connection_lost", "connection_error", "server_busy", "error_occurred")
CONTEXT_CHARS = 400

DocumentText = Callable[[str], str | None]


def direction(language: str | None) -> str:
    return "rtl" if language and is_rtl(language) else "ltr"


def anchor(turn: int, ident: int) -> str:
    return f"kb-src-{turn}-{ident}"


def _inline(line: str, turn: int | None, titles: dict[int, str]) -> str:
    """One line of text, escaped; ``[n]`` markers become links to passage ``n``."""
    out: list[str] = []
    last = 0
    for match in MARKER.finditer(line):
        ident = int(match.group(1))
        out.append(escape(line[last : match.start()]))
        if turn is not None and ident in titles:
            out.append(
                f'<a class="kb-marker" href="#{anchor(turn, ident)}" title="{escape(titles[ident])}">[{ident}]</a>'
            )
        else:
            out.append(escape(match.group(0)))
        last = match.end()
    out.append(escape(line[last:]))
    return "".join(out)


def _voice(line: str, passages: Mapping[int, Citation]) -> str:
    """A line that is a quote and its markers alone ("“…” [2]") speaks its passage's language:
    its ``lang`` and ``dir`` (a screen reader read an Arabic answer's Spanish quotes with an
    Arabic voice); any other line reads in the answer's, in the direction of its own text."""
    whole = QUOTE.fullmatch(line)
    if whole is not None and "”" not in whole.group(1):  # one quote, not two with words between
        segments = quoted_segments(line)
        for ident in (int(n) for n in MARKER.findall(whole.group(2))):
            cited = passages.get(ident)
            if cited is not None and find_spans(cited.chunk.text, segments):
                language = cited.chunk.language
                return f' lang="{escape(language)}" dir="{direction(language)}"'
    return ' dir="auto"'


def text_html(
    text: str,
    turn: int | None = None,
    titles: dict[int, str] | None = None,
    passages: Mapping[int, Citation] | None = None,
) -> str:
    """Plain text as paragraphs and "- " bullet lists, every character escaped; a quoted line
    takes the language of the passage (``passages``, by marker) it quotes."""
    titles = titles or {}
    passages = passages or {}
    blocks: list[str] = []
    items: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("- "):
            items.append(f"<li{_voice(line[2:], passages)}>{_inline(line[2:], turn, titles)}</li>")
            continue
        if items:
            blocks.append("<ul>" + "".join(items) + "</ul>")
            items = []
        if line:
            blocks.append(f"<p{_voice(line, passages)}>{_inline(line, turn, titles)}</p>")
    if items:
        blocks.append("<ul>" + "".join(items) + "</ul>")
    return "".join(blocks)


def question_html(text: str, language: str | None = None) -> str:
    lang = f' lang="{escape(language)}"' if language else ""
    dir_ = direction(language) if language else "auto"
    return f'<div class="kb-question" dir="{dir_}"{lang}>{text_html(text)}</div>'


def partial_html(text: str) -> str:
    """An answer still streaming in, provisional (shown muted, and busy to a screen reader)
    until the whole answer replaces it: a model's sentences are checked against their
    passages once it has written them, and may be dropped or quoted instead. Markers
    stay plain text until citations are known. Gradio's sanitizer drops ``aria-busy``:
    the page's script (``static/chat.js``) sets it again on ``.kb-streaming``."""
    return f'<div class="kb-answer kb-streaming" dir="auto" aria-busy="true">{text_html(text)}</div>'


def thinking_html(language: str | None) -> str:
    return f'<div class="kb-answer kb-streaming" dir="auto"><p>{escape(ui("thinking", language))}</p></div>'


def answer_html(answer: Answer, turn: int) -> str:
    titles = {c.id: c.chunk.title for c in answer.citations}
    body = text_html(answer.answer, turn, titles, {c.id: c for c in answer.citations})
    notice = f'<p class="kb-notice" dir="auto">{escape(answer.notice)}</p>' if answer.notice else ""
    state = "kb-answered" if answer.answered else "kb-not-covered"
    lang = escape(answer.language)
    return f'<div class="kb-answer {state}" dir="{direction(answer.language)}" lang="{lang}">{body}{notice}</div>'


def error_html(message: str) -> str:
    return f'<div class="kb-error" role="alert" dir="auto"><p>{escape(message)}</p></div>'


# -- the sources panel ----------------------------------------------------------
def marked(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out: list[str] = []
    last = 0
    for start, end in spans:
        out.append(escape(text[last:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


def paragraph_around(document: str, start: int, end: int, limit: int = CONTEXT_CHARS) -> tuple[int, int]:
    """Widen ``[start, end)`` to the paragraph breaks around it, at most ``limit`` characters each way."""
    before = document.rfind("\n\n", max(0, start - limit), start)
    after = document.find("\n\n", end, end + limit)
    return (before + 2 if before >= 0 else start), (after if after >= 0 else end)


def citation_html(citation: Citation, turn: int, answer_text: str, ui_language: str, document: str | None) -> str:
    chunk = citation.chunk
    spans = find_spans(chunk.text, quoted_segments(answer_text, citation.id))
    passage = f'<span class="kb-passage">{marked(chunk.text, spans)}</span>'
    before = after = ""
    if document is not None and document[chunk.start : chunk.end] == chunk.text:
        left, right = paragraph_around(document, chunk.start, chunk.end)
        before, after = escape(document[left : chunk.start]), escape(document[chunk.end : right])
    src = escape(chunk.source)
    link = citation_link(citation, answer_text)
    post = (
        f' <a class="kb-post" href="{escape(link)}" target="_blank" rel="noopener noreferrer">'
        f"{escape(ui('open_post', ui_language))}</a>"
        if link
        else ""
    )
    also = ""
    if citation.alternatives:
        others = ", ".join(
            f'<span lang="{escape(a.language)}">{escape(language_name(a.language))}</span>'
            f' (<bdi dir="ltr">{escape(a.source)}</bdi>)'
            for a in citation.alternatives
        )
        # The answers' own words have no script variants: "zh-Hant" says it as "zh" does.
        label = escape(message("alternative", ui_language.partition("-")[0]))
        also = f'<p class="kb-also" dir="{direction(ui_language)}">{label} {others}</p>'
    return (
        f'<article class="kb-citation" id="{anchor(turn, citation.id)}" data-id="{citation.id}"'
        f' data-source="{src}" lang="{escape(chunk.language)}" dir="{direction(chunk.language)}">'
        f'<header><span class="kb-num">[{citation.id}]</span> <span class="kb-title">{escape(chunk.title)}</span>'
        f' <span class="kb-lang">{escape(language_name(chunk.language))}</span></header>'
        f'<div class="kb-context">{before}{passage}{after}</div>{also}'
        f'<footer dir="{direction(ui_language)}">'
        f'<bdi class="kb-where" dir="ltr">{src} · {chunk.start}–{chunk.end}</bdi>'
        f' <button type="button" class="kb-open" data-source="{src}" data-start="{chunk.start}"'
        f' data-end="{chunk.end}" data-lang="{escape(chunk.language)}">'
        f"{escape(ui('open_article', ui_language))}</button>{post}</footer></article>"
    )


def sources_section(answer: Answer, turn: int, document_text: DocumentText, labels: str | None = None) -> str:
    """The cited passages of one answer, each inside its paragraph, quotes highlighted;
    its labels in ``labels`` (the page's label language, "zh-Hant" say), else the answer's language."""
    language = labels or answer.language
    cards = "".join(
        citation_html(c, turn, answer.answer, language, document_text(c.chunk.source)) for c in answer.citations
    )
    heading = f'{escape(ui("sources", language))} — “{escape(_short(answer.question))}”'
    return (
        f'<section class="kb-turn" data-turn="{turn}" dir="{direction(language)}" lang="{escape(language)}">'
        f"<h2>{heading}</h2>{cards}</section>"
    )


def sources_panel(sections: Sequence[str], language: str | None) -> str:
    """All turns' sections, newest first; only the newest is shown until a marker asks for another.

    The panel also tells the page which language its labels speak now (``lang``,
    ``data-dir``) and how to say "Close", title its notices ("Warning") and say Gradio's own
    (``GRADIO_NOTICES``), for what the page's script draws or relabels itself.
    """
    spoken = language if language in UI else DEFAULT
    opening = (
        f'<div class="kb-sources" lang="{spoken}" dir="{direction(spoken)}" data-dir="{direction(spoken)}"'
        f' data-close="{escape(ui("close", spoken))}"'
        f' data-back="{escape(ui("back_to_answer", spoken))}"'
        f' data-toast-info="{escape(ui("toast_info", spoken))}"'
        f' data-toast-warning="{escape(ui("toast_warning", spoken))}"'
        f' data-toast-error="{escape(ui("toast_error", spoken))}"'
        + "".join(f' data-{key.replace("_", "-")}="{escape(ui(key, spoken))}"' for key in GRADIO_NOTICES)
        + ">"
    )
    if not sections:
        return f'{opening}<p class="kb-empty">{escape(ui("sources_empty", language))}</p></div>'
    shown = [s if i == 0 else s.replace('<section class="kb-turn"', '<section hidden class="kb-turn"', 1)
             for i, s in enumerate(reversed(sections))]
    return opening + "".join(shown) + "</div>"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
