"""Markdown to text: the markup goes, the words stay (as with HTML).

markdown-it-py reads the Markdown (CommonMark, with tables) and this module
writes its tokens as lines: each heading, paragraph, list item and table row
a line of its own, a table's cells with " | " between them, a code block's
lines marked as a listing's (``PREFORMATTED``). Code spans and URLs keep their
text byte for byte. HTML comments and template tags (Hugo's shortcodes,
Liquid's tags) are markup, an HTML block reads as HTML does, and footnotes
keep their notes at the end. Front matter (YAML, or TOML between "+++" lines)
is the post's settings: PyYAML and tomllib read it, and its title becomes the
article's first line.
"""

from __future__ import annotations

import logging
import re
import tomllib
from functools import lru_cache
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from kb.ingest.clean import PREFORMATTED
from kb.ingest.html import html_to_text

log = logging.getLogger(__name__)

# -- front matter ----------------------------------------------------------------------------

_CLOSING = {"---": ("---", "..."), "+++": ("+++",)}
_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def front_matter(markup: str) -> tuple[dict[str, Any], str]:
    """Split a static-site generator's front matter (YAML between "---"
    lines, TOML between "+++" lines) from a Markdown article.

    Returns (settings, body): the settings as parsed (empty without front
    matter) and the article after it; a text without front matter comes back
    whole. Front matter that does not parse as a whole gives the settings of
    its lines that do ("draft: true" under a broken title still says draft).
    """
    settings, body = _front_matter(markup)
    return dict(settings), body


# A file's front matter is read by several steps of its ingest (whether it is a draft, its
# address, its title and body): it is parsed once, for the last few files read.
_PARSED_FILES = 8


@lru_cache(maxsize=_PARSED_FILES)
def _front_matter(markup: str) -> tuple[dict[str, Any], str]:
    lines = markup.lstrip("\ufeff").splitlines()
    end = _front_matter_end(lines)
    if end is None:
        return {}, markup
    return _settings(lines[1:end], toml=lines[0].rstrip() == "+++"), "\n".join(lines[end + 1 :])


def _front_matter_end(lines: list[str]) -> int | None:
    """The index of the line that closes the front matter, if ``lines`` open with one."""
    fence = lines[0].rstrip() if lines else ""
    if fence not in _CLOSING:
        return None
    return next((i for i, line in enumerate(lines[1:], start=1) if line.rstrip() in _CLOSING[fence]), None)


def _settings(lines: list[str], toml: bool) -> dict[str, Any]:
    parsed = _parse_settings("\n".join(lines), toml)
    if parsed is not None:
        return parsed
    log.warning("front matter does not parse as %s; its settings are read line by line", "TOML" if toml else "YAML")
    settings: dict[str, Any] = {}
    for line in lines:
        if line[:1].strip():  # a top-level setting's line
            settings.update(_parse_settings(line, toml) or {})
    return settings


def _parse_settings(text: str, toml: bool) -> dict[str, Any] | None:
    try:
        parsed = tomllib.loads(text) if toml else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, ValueError, RecursionError):
        return None
    if parsed is None:
        return {}
    return {str(key): value for key, value in parsed.items()} if isinstance(parsed, dict) else None


def _setting(settings: dict[str, Any], name: str) -> tuple[str, Any] | None:
    """The setting ``name`` (in any case, as Hugo reads it) and its value, as written in ``settings``."""
    return next(((key, value) for key, value in settings.items() if key.lower() == name), None)


def _title(settings: dict[str, Any]) -> str:
    found = _setting(settings, "title")
    if found is None:
        return ""
    value = found[1]
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    # A list or a table ("title: [a, b]"): not a title; the article's own first line is.
    log.warning("front matter title is a %s, not text; the article's first line is the title", type(value).__name__)
    return ""


# Values of a post's "status" (Pelican, WordPress exports) that the blog does not publish:
# "hidden" (Pelican: published, only not listed) is not among them.
UNPUBLISHED_STATUSES = frozenset({"draft", "pending", "private", "future", "trash"})


def draft_setting(markup: str) -> str | None:
    """The front-matter setting that makes a post a draft the blog does not
    publish, as "draft: true", "draft = true" (TOML), "published: false" or
    "status: draft"; None for a post that is published."""
    settings, _ = front_matter(markup)
    toml = markup.lstrip("\ufeff").startswith("+++")
    status = _setting(settings, "status")
    if status is not None and isinstance(status[1], str) and status[1].strip().lower() in UNPUBLISHED_STATUSES:
        return f"{status[0]}{' = ' if toml else ': '}{status[1].strip()}"
    for name, draft_when in (("draft", True), ("published", False)):
        found = _setting(settings, name)
        if found is None:
            continue
        value = found[1]
        flag = _BOOLEANS.get(value.strip().lower()) if isinstance(value, str) else value
        if isinstance(flag, bool) and flag == draft_when:
            return f"{found[0]}{' = ' if toml else ': '}{'true' if flag else 'false'}"
    return None


# -- the Markdown reader ---------------------------------------------------------------------

# A URL in the text, not a link's target (which goes with its link): what ends a sentence
# after it ("see https://x.org/a.") is the sentence's, as GitHub reads it.
_URL = re.compile(r"[^\s<>\]]+")
_SCHEME = re.compile(r"(?:https?|ftp)$")
_URL_TRAILING = ".,:;!?'\""
_URL_EMPHASIS = "*_~"
# Template tags: Hugo's shortcodes ("{{< youtube … >}}", "{{% notice %}}") and Liquid's
# ("{% include … %}", "{{ page.title }}"); each may run over several lines.
_TEMPLATE = re.compile(r"\{\{[<%]?|\{%")
_TEMPLATE_END = {"{{<": ">}}", "{{%": "%}}", "{%": "%}", "{{": "}}"}
# Footnotes: "[^1]" in the text, "[^1]: The note." as a block of its own.
_FOOTNOTE_REF = re.compile(r"\[\^([^\]\s]{1,100})\]")
_FOOTNOTE_DEF = re.compile(r"\[\^([^\]\s]{1,100})\]:[ \t]*")
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Inline HTML whose content is never shown: a script's, a style's.
_HIDDEN_TAG = re.compile(r"<(/?)(script|style|template|noscript)\b", re.IGNORECASE)


def _bare_url(state: StateInline, silent: bool) -> bool:
    """A URL in the text ("see https://x.org/a_b_"): its text as written, so that no mark
    inside it ("a*b*c", "__x__") reads as emphasis. Like markdown-it's linkify rule, it
    starts at the ":" after the scheme that the text before holds."""
    pos = state.pos
    if state.linkLevel > 0 or not state.src.startswith("://", pos):
        return False
    scheme = _SCHEME.search(state.pending)
    if scheme is None:
        return False
    start = pos - len(scheme.group())
    if start > 0 and (state.src[start - 1].isalnum() or state.src[start - 1] == "_"):
        return False
    match = _URL.match(state.src, pos)
    url = state.src[start : match.end()] if match else ""
    end = len(url)
    closing = url.count(")") - url.count("(")
    while end and (url[end - 1] in _URL_TRAILING or (url[end - 1] == ")" and closing > 0)):
        closing -= url[end - 1] == ")"
        end -= 1
    # "*see https://x.org/a*": a mark the URL holds no pair of, opened before it, closes there.
    while end and url[end - 1] in _URL_EMPHASIS and url.count(url[end - 1], 0, end) % 2:
        if state.src.rfind(url[end - 1], 0, start) < 0:
            break
        end -= 1
    if end <= len(scheme.group()) + 3:
        return False
    if not silent:
        state.pending = state.pending[: -len(scheme.group())]
        state.push("text", "", 0).content = url[:end]
    state.pos = start + end
    return True


def _template_tag(state: StateInline, silent: bool) -> bool:
    """A template tag: markup, not text (a code span's "{{ .Title }}" is the code's)."""
    opened = _TEMPLATE.match(state.src, state.pos)
    if opened is None:
        return False
    closer = _TEMPLATE_END[opened.group()]
    # The last closer in the paragraph, found once: a paragraph of "{{" without one is read in linear time.
    last = state.env.setdefault("template_last", {})
    key = (closer, state.src)
    if key not in last:
        last[key] = state.src.rfind(closer)
    end = state.src.find(closer, opened.end()) if last[key] >= opened.end() else -1
    if end < 0:
        return False
    if not silent:
        state.push("template", "", 0).content = state.src[state.pos : end + len(closer)]
    state.pos = end + len(closer)
    return True


def _footnote_ref(state: StateInline, silent: bool) -> bool:
    match = _FOOTNOTE_REF.match(state.src, state.pos)
    if match is None or match.group(1) not in state.env.get("footnotes", ()):
        return False  # no note: not a footnote, and shown as written
    if not silent:
        state.push("footnote_ref", "", 0).meta = {"label": match.group(1)}
    state.pos = match.end()
    return True


def _footnote_def(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """A footnote's note, "[^1]: The note.", with its lines up to a blank one and, after
    one, the lines indented under it."""
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    first = state.bMarks[start] + state.tShift[start]
    match = _FOOTNOTE_DEF.match(state.src, first, state.eMarks[start])
    if match is None:
        return False
    if silent:
        return True
    line = start + 1
    while line < end:
        if state.isEmpty(line):
            following = line
            while following < end and state.isEmpty(following):
                following += 1
            if following < end and state.sCount[following] - state.blkIndent >= 4:
                line = following
                continue
            break
        if state.sCount[line] - state.blkIndent < 4 and any(
            rule(state, line, end, True) for rule in state.md.block.ruler.getRules("paragraph")
        ):
            break
        line += 1
    label = match.group(1)
    state.env.setdefault("footnotes", set()).add(label)
    text = state.src[match.end() : state.eMarks[start]]
    if line > start + 1:
        text += "\n" + state.getLines(start + 1, line, state.blkIndent, False)
    state.push("footnote_open", "", 1).meta = {"label": label}
    inline = state.push("inline", "", 0)
    inline.content, inline.map, inline.children = text.strip(), [start, line], []
    state.push("footnote_close", "", -1)
    state.line = line
    return True


class _Reader(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return True  # a link's target is never shown: any link's text is text

    def normalizeLinkText(self, link: str) -> str:
        return link  # an autolink's URL as written


def _reader() -> MarkdownIt:
    md = _Reader("commonmark").enable("table")
    md.block.ruler.before("reference", "footnote_def", _footnote_def, {"alt": ["paragraph", "reference"]})
    md.inline.ruler.after("text", "bare_url", _bare_url)
    md.inline.ruler.after("bare_url", "template_tag", _template_tag)
    md.inline.ruler.before("link", "footnote_ref", _footnote_ref)
    return md


_MARKDOWN = _reader()


# -- tokens to lines -------------------------------------------------------------------------


class _Writer:
    """An article's lines from its tokens."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.numbers: dict[str, int] = {}  # a footnote's mark, in the order the text first refers to it
        self.notes: dict[str, list[Token]] = {}

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def inline(self, token: Token) -> list[str]:
        """An inline token's lines: one break per hard break, and one where a line of
        the source holds only markup (a shortcode, a comment: a block of its own)."""
        done: list[str] = []
        current = ""  # the line being written
        piece = ""  # the text of the source's line
        markup = False  # the source's line holds a template tag or comment
        hidden = ""  # the inline element (a script) whose content is not text

        def end_of_source_line(hard: bool) -> None:
            nonlocal current, piece, markup
            if markup and not piece.strip():
                hard = True
            else:
                current = f"{current.rstrip()} {piece.lstrip()}" if current.strip() else piece
            if hard and current.strip():
                done.append(current)
                current = ""
            piece, markup = "", False

        def walk(children: list[Token]) -> None:
            nonlocal piece, markup, hidden
            for child in children:
                kind = child.type
                tag = _HIDDEN_TAG.match(child.content) if kind == "html_inline" else None
                if tag or hidden:
                    if tag and not tag.group(1) and not hidden:
                        hidden = tag.group(2).lower()
                    elif tag and tag.group(1) and tag.group(2).lower() == hidden:
                        hidden = ""
                elif kind in ("text", "code_inline"):
                    piece += child.content
                elif kind in ("softbreak", "hardbreak"):
                    end_of_source_line(kind == "hardbreak")
                elif kind == "template" or (kind == "html_inline" and child.content.startswith("<!--")):
                    markup = True
                elif kind == "html_inline" and _BREAK_TAG.fullmatch(child.content):
                    end_of_source_line(True)
                elif kind == "footnote_ref":
                    label = child.meta["label"]
                    piece += f"[{self.numbers.setdefault(label, len(self.numbers) + 1)}]"
                elif kind == "image":
                    walk(child.children or [])

        walk(token.children or [])
        end_of_source_line(True)
        return done

    def write(self, tokens: list[Token]) -> None:
        item = ""  # a list item's mark, for its first line
        lists = 0
        cells: list[str] | None = None
        note: str | None = None
        heading = False
        for token in tokens:
            kind = token.type
            if kind == "inline" and note is not None:
                self.notes[note].append(token)  # written at the end, its marks numbered after the text's
            elif kind == "inline":
                lines = self.inline(token)
                if cells is not None:
                    cells.append(" ".join(line.strip() for line in lines))
                elif lines:
                    if heading:
                        lines = [_without_heading_id(" ".join(line.strip() for line in lines))]
                    lines[0], item = item + lines[0].lstrip(), ""
                    self.lines.extend(lines)
            elif kind in ("heading_open", "heading_close"):
                heading = kind == "heading_open"
                self.blank()
            elif kind == "paragraph_open" and not lists:
                self.blank()
            elif kind in ("bullet_list_open", "ordered_list_open", "bullet_list_close", "ordered_list_close"):
                lists += 1 if kind.endswith("_open") else -1
                if not lists or (lists == 1 and kind.endswith("_open")):
                    self.blank()  # around a list, not between its items
            elif kind == "list_item_open":
                item = "- " if token.markup in "-*+" else f"{token.info}{token.markup} "
            elif kind == "list_item_close":
                item = ""
            elif kind in ("fence", "code_block"):
                self.blank()
                self.lines.extend(PREFORMATTED + line for line in token.content.splitlines())
                self.lines.append("")
                item = ""
            elif kind == "html_block":
                if not token.content.lstrip().startswith("<!--"):
                    self.blank()
                    self.lines.extend(line for line in html_to_text(token.content).split("\n") if line.strip())
                    self.blank()
            elif kind in ("table_open", "table_close"):
                self.blank()
            elif kind == "tr_open":
                cells = []
            elif kind == "tr_close" and cells is not None:
                self.lines.append(" | ".join(cells))
                cells = None
            elif kind == "footnote_open":
                note = token.meta["label"]
                self.notes.setdefault(note, [])
            elif kind == "footnote_close":
                note = None

    def footnotes(self) -> None:
        """The notes at the end, each "[1] …", in the order of their marks."""
        for label in self.notes:
            self.numbers.setdefault(label, len(self.numbers) + 1)
        ordered = sorted(self.notes, key=self.numbers.__getitem__)
        if ordered:
            self.blank()
        for label in ordered:
            text = " ".join(line.strip() for token in self.notes[label] for line in self.inline(token))
            self.lines.append(f"[{self.numbers[label]}] {text}")


def _without_heading_id(text: str) -> str:
    """A heading without its id or classes (kramdown's and Hugo's "## Packing list {#top}"): markup."""
    text = text.rstrip()
    start = text.rfind("{")
    if start >= 0 and text.endswith("}") and text[start + 1 :].lstrip()[:1] in ("#", "."):
        return text[:start].rstrip()
    return text


def markdown_to_text(markup: str) -> str:
    """The text of a Markdown article: headings, paragraphs and list items each a line
    ("- " for a bullet, "1. " for a number), emphasis, links and images without their marks
    (an image by its description), a table's rows as lines of cells with " | " between
    them, a code block's lines marked as a listing's, and footnote marks as "[1]" with
    their notes as lines "[1] …" at the end. Front matter goes too, but for its title,
    which becomes the first line, and so do HTML comments and template tags."""
    settings, body = front_matter(markup)
    title = _title(settings)
    writer = _Writer()
    writer.write(_MARKDOWN.parse(body, {}))
    writer.footnotes()
    out = writer.lines
    first = next((text for line in out if (text := line.replace(PREFORMATTED, "").strip())), "")
    # A title over no text (front matter only) is not an article.
    if title and first and first != title:
        out[:0] = [title, ""]  # unless the article's own first heading says it already
    return "\n".join(out).strip("\n")
