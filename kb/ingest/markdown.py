"""Markdown to text: the markup goes, the words stay (as with HTML).

Front matter gives the title and says whether the post is a draft; HTML
comments and template tags are markup; tables read as cells and footnotes
keep their notes at the end.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from kb.ingest.clean import PREFORMATTED

log = logging.getLogger(__name__)


# Markdown: the markup goes, the words stay (as with HTML). Line by line, so a
# fenced code block's lines are kept as written (and marked PREFORMATTED, a listing's).
_MD_FENCE = re.compile(r"^\s*(```|~~~)")
_MD_ATX = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
# A heading's id or classes (kramdown's and Hugo's "## Packing list {#top}"): markup.
_MD_HEADING_ID = re.compile(r"\s*\{\s*[#.][^{}]*\}\s*$")
_MD_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_MD_QUOTE = re.compile(r"^\s{0,3}>\s?")
_MD_BULLET = re.compile(r"^(\s*)[*+]\s+")
# A list item's first line ("- ", "* ", "1. ", "2) "): it starts an item of its own.
_MD_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,9}[.)])\s+")
# A link's or an image's target may hold parentheses in pairs ("https://x/a_(b)"), two deep.
# Possessive: a line of unclosed "[a](" is read in the time the plain "[^)]*" took.
_MD_TARGET = r"\((?:(?:[^()]++|\((?:[^()]++|\([^()]*+\))*+\))*+|[^)]*+)\)"
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]" + _MD_TARGET)
_MD_LINK = re.compile(r"\[([^\]]+)\]" + _MD_TARGET)
_MD_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
# A code span: a run of backticks, its text, and a run of as many (CommonMark).
_MD_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
# A URL in the text, not a link's target (which goes with its link). What ends a
# sentence after it ("see https://x.org/a.") is the sentence's, as GitHub reads it.
_MD_BARE_URL = re.compile(r"(?<!\]\()\b(?:https?|ftp)://[^\s<>\]]+")
_URL_TRAILING = ".,:;!?'\""
_URL_EMPHASIS = "*_~"
# "__" inside a word is not strong emphasis (CommonMark): max__pool__size is a name.
_MD_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_MD_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])")


def front_matter(markup: str) -> tuple[str, str]:
    """Split a static-site generator's front matter (YAML between "---"
    lines, TOML between "+++" lines) from a Markdown article.

    The front matter is the post's settings, not its text: only its title
    is kept, as the article's first line. Returns (title, body); a text
    without front matter comes back whole, with an empty title.
    """
    lines = markup.lstrip("\ufeff").splitlines()
    end = _front_matter_end(lines)
    if end is None:
        return "", markup
    title = ""
    for line in lines[1:end]:
        match = _FRONT_MATTER_TITLE.match(line)
        if match:
            value = match.group(1).strip()
            if value[:1] in ("[", "{"):
                # A list or a table, or front matter broken there ("title: [unclosed"): not a
                # title; the article's own first line is. ("[Draft] …" in quotes is text.)
                log.warning("front matter title %r is not text; the article's first line is the title", value[:40])
            else:
                title = _unquote(value)
            break
    return title, "\n".join(lines[end + 1 :])


def _front_matter_end(lines: list[str]) -> int | None:
    """The index of the line that closes the front matter, if ``lines`` open with one."""
    if not lines or lines[0].rstrip() not in ("---", "+++"):
        return None
    closing = ("---", "...") if lines[0].rstrip() == "---" else ("+++",)
    return next((i for i, line in enumerate(lines[1:], start=1) if line.rstrip() in closing), None)


def front_matter_lines(markup: str) -> list[str]:
    """The lines of a Markdown article's front matter, between its fences; none without one."""
    lines = markup.lstrip("\ufeff").splitlines()
    end = _front_matter_end(lines)
    return lines[1:end] if end else []


def draft_setting(markup: str) -> str | None:
    """The front-matter setting, as written, that makes a post a draft the blog
    does not publish ("draft: true", "draft = true", "published: false"); None
    for a post that is published."""
    lines = markup.lstrip("\ufeff").splitlines()
    end = _front_matter_end(lines)
    for line in lines[1:end] if end else ():
        match = _FRONT_MATTER_DRAFT.match(line)
        if match and (match.group(2).lower() == "draft") == (match.group(3).lower() in _TRUE):
            return match.group(1)
    return None


_FRONT_MATTER_DRAFT = re.compile(
    r"""^((draft|published)\s*[:=]\s*["']?(true|false|yes|no|on|off)["']?)\s*(?:\#.*)?$""", re.IGNORECASE
)
_TRUE = frozenset(("true", "yes", "on"))
_FRONT_MATTER_TITLE = re.compile(r"^title\s*[:=]\s*(.+?)\s*$", re.IGNORECASE)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return inner.replace('\\"', '"') if value[0] == '"' else inner.replace("''", "'")
    return value


# An HTML comment (the author's private note) and a static-site generator's
# template tags: Hugo's shortcodes ("{{< youtube … >}}", "{{% notice %}}")
# and Liquid's ("{% include … %}", "{{ page.title }}"). Markup, not text; what
# a paired shortcode wraps is text and stays. Either may run over several lines.
_MD_MARKUP = re.compile(r"<!--.*?-->|\{\{<.*?>\}\}|\{\{%.*?%\}\}|\{%.*?%\}|\{\{.*?\}\}")
_MD_MARKUP_START = re.compile(r"<!--|\{\{[<%]?|\{%")
_MD_MARKUP_END = {"<!--": "-->", "{{<": ">}}", "{{%": "%}}", "{%": "%}", "{{": "}}"}
_MD_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def _without_markup(line: str, pending: str | None) -> tuple[str, str | None]:
    """``line`` without comments and template tags, outside code spans; and
    the end of one that it opens and leaves open (``pending`` is the end that
    an earlier line's left open)."""
    if pending:
        end = line.find(pending)
        if end < 0:
            return "", pending
        line = line[end + len(pending) :]
    kept: list[str] = []
    position = 0
    for code in [*_MD_CODE_SPAN.finditer(line), None]:
        stop = code.start() if code else len(line)
        text = _MD_MARKUP.sub("", line[position:stop])
        opened = _MD_MARKUP_START.search(text)
        if opened:
            kept.append(text[: opened.start()])
            return "".join(kept), _MD_MARKUP_END[opened.group()]
        kept.append(text)
        if code:
            kept.append(code.group())
            position = code.end()
    return "".join(kept), None


# A table: a row of cells between "|", a separator row under its header
# ("|---|:--:|"), and the rows that follow until a line without a "|".
_MD_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_MD_CELL_BAR = re.compile(r"(?<!\\)\|")


def _table_lines(lines: list[str]) -> dict[int, bool]:
    """The lines of ``lines`` that are a table's, outside fenced code: True for
    a row, False for a separator."""
    table: dict[int, bool] = {}
    fenced = False
    i = 0
    while i < len(lines):
        if _MD_FENCE.match(lines[i]):
            fenced = not fenced
        elif (
            not fenced
            and "|" in lines[i]
            and i + 1 < len(lines)
            and "|" in lines[i + 1]
            and _MD_TABLE_SEPARATOR.match(lines[i + 1])
        ):
            table[i], table[i + 1] = True, False
            i += 2
            while i < len(lines) and lines[i].strip() and "|" in lines[i]:
                table[i] = True
                i += 1
            continue
        i += 1
    return table


def _table_row(line: str) -> str:
    """A table row's cells, trimmed, with " | " between them and none around them."""
    row = line.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return " | ".join(cell.strip().replace("\\|", "|") for cell in _MD_CELL_BAR.split(row))


# Footnotes: "[^1]" in the text, "[^1]: The note." below, with indented lines
# continuing the note. A page shows the marks as numbers in the order the text
# first refers to them, and the notes at the end in that order.
_MD_FOOTNOTE = re.compile(r"^\s{0,3}\[\^([^\]\s]+)\]:[ \t]*(.*)$")
_MD_FOOTNOTE_REF = re.compile(r"\[\^([^\]\s]+)\](?!:)")
_MD_CONTINUATION = re.compile(r"^(?: {4}|\t)\s*(\S.*)$")


class _Footnotes:
    """An article's footnotes: its marks as "[1]", "[2]" …, and its notes as lines "[1] …" at its end."""

    def __init__(self, lines: list[str]) -> None:
        self.labels = {m.group(1) for m in map(_MD_FOOTNOTE.match, lines) if m}
        self.number: dict[str, int] = {}
        self.notes: dict[str, list[str]] = {}

    def mark(self, line: str) -> str:
        return _MD_FOOTNOTE_REF.sub(self._mark, line) if self.labels else line

    def _mark(self, match: re.Match[str]) -> str:
        label = match.group(1)
        if label not in self.labels:
            return match.group()  # no note: not a footnote, and shown as written
        return f"[{self.number.setdefault(label, len(self.number) + 1)}]"

    def lines(self, inline: Callable[[str], str]) -> list[str]:
        for label in self.notes:
            self.number.setdefault(label, len(self.number) + 1)
        ordered = sorted(self.notes, key=self.number.__getitem__)
        notes = [f"[{self.number[label]}] {inline(' '.join(self.notes[label]))}" for label in ordered]
        return ["", *notes] if notes else []


def _md_inline(line: str) -> str:
    """A line without its inline marks. Code spans and URLs are set aside first, each
    behind a character the line does not hold, so no mark is read inside them: their
    text comes back byte for byte."""
    kept: list[tuple[str, str]] = []
    free = (chr(c) for c in range(0xE000, 0xF900) if chr(c) not in line)  # private use

    def keep(text: str) -> str:
        mark = next(free, None)
        if mark is None:  # thousands of spans on one line: left as they are
            return text
        kept.append((mark, text))
        return mark

    def bare_url(match: re.Match[str]) -> str:
        url, before = match.group(), match.string[: match.start()]
        while url[-1] in _URL_TRAILING or (url[-1] == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        # "*see https://x.org/a*": a mark the URL holds no pair of, opened before it, closes there.
        while url[-1] in _URL_EMPHASIS and url[-1] in before and url.count(url[-1]) % 2:
            url = url[:-1]
        return keep(url) + match.group()[len(url) :]

    line = _MD_CODE.sub(lambda m: keep(_code_text(m.group(2))), line)
    line = _MD_AUTOLINK.sub(lambda m: keep(m.group(1)), line)
    line = _MD_BARE_URL.sub(bare_url, line)
    line = _MD_IMAGE.sub(r"\1", line)
    line = _MD_LINK.sub(r"\1", line)
    line = _MD_REF_LINK.sub(r"\1", line)
    line = _MD_STRONG.sub(lambda m: m.group(1) or m.group(2), line)
    line = _MD_EMPHASIS.sub(lambda m: m.group(1) or m.group(2), line)
    for mark, text in reversed(kept):  # a URL may hold a code span's mark
        line = line.replace(mark, text)
    return line


def _code_text(text: str) -> str:
    """A code span's text: one space inside each backtick run goes (CommonMark's ``` `` `x` `` ```)."""
    if len(text) > 2 and text[0] == text[-1] == " " and text.strip():
        return text[1:-1]
    return text


def markdown_to_text(markup: str) -> str:
    """The text of a Markdown article: headings without their "#", emphasis,
    links and code without their marks, "*"/"+" bullets as "-", a table's
    rows as lines of cells with " | " between them, footnote marks as "[1]"
    and their notes as lines "[1] …" at the end. Front matter
    goes too, but for its title, which becomes the first line, and so do HTML
    comments and template tags (Hugo's shortcodes, Liquid's tags)."""
    title, markup = front_matter(markup)
    out: list[str] = []
    fenced = False
    pending: str | None = None  # the end of a comment or template tag left open
    lines = markup.splitlines()
    table = _table_lines(lines)
    footnotes = _Footnotes(lines)
    note: list[str] | None = None  # the footnote whose indented lines may follow
    # Whether each line of ``out`` is a paragraph's (or a list item's) text, which
    # the next line of text continues: in Markdown one line break is a space, and a
    # post wrapped at 80 columns has a paragraph on several lines.
    flowing: list[bool] = []
    broken = False  # the last line ended with a hard break (two spaces, or a backslash)

    def add(text: str, flows: bool) -> None:
        nonlocal broken
        continues = flows and bool(text.strip()) and bool(flowing) and flowing[-1] and not broken
        if continues and not _MD_LIST_ITEM.match(text):
            out[-1] = out[-1].rstrip() + " " + text.strip()
        else:
            out.append(text)
            flowing.append(flows and bool(text.strip()))
        broken = False

    for i, line in enumerate(lines):
        if _MD_FENCE.match(line) and not pending:
            fenced = not fenced
            add("", False)
            continue
        if fenced:
            add(PREFORMATTED + line, False)
            continue
        if pending or _MD_MARKUP_START.search(line):
            stripped, pending = _without_markup(line, pending)
            if not stripped.strip():
                # A line of markup only: what follows starts a line of its own (a
                # shortcode or a template tag is a block: "{{% notice %}}").
                broken = True
                continue
            line = stripped
        footnote = _MD_FOOTNOTE.match(line)
        if footnote:
            note = footnotes.notes.setdefault(footnote.group(1), [])
            note.append(footnote.group(2).strip())
            continue
        continuation = _MD_CONTINUATION.match(line) if note is not None else None
        if continuation and note is not None:
            note.append(continuation.group(1))
            continue
        if line.strip():
            note = None
        if i in table:
            if not table[i]:
                continue  # the separator under the header
            line = _table_row(line)
        elif _MD_SETEXT.match(line) and out and out[-1].strip():
            flowing[-1] = False  # the underline of a heading: its text ends there
            continue
        if _MD_RULE.match(line) or _MD_LINK_DEFINITION.match(line):
            add("", False)
            continue
        heading = None if i in table else _MD_ATX.match(line)
        if heading:
            line = _MD_HEADING_ID.sub("", heading.group(1))
        hard_break = line.endswith(("  ", "\\"))
        line = _MD_BULLET.sub(r"\1- ", _MD_QUOTE.sub("", line))
        if hard_break and line.endswith("\\"):
            line = line[:-1]
        add(_md_inline(footnotes.mark(line)), flows=heading is None and i not in table)
        broken = hard_break
    out.extend(footnotes.lines(lambda text: _md_inline(footnotes.mark(text))))
    first = next((text for line in out if (text := line.replace(PREFORMATTED, "").strip())), "")
    # A title over no text (front matter only) is not an article.
    if title and first and first != title:
        out.insert(0, title)  # unless the article's own first heading says it already
    return "\n".join(out)
