"""Cleaning: boilerplate out, repeated blocks once, whitespace normalised.

Cleaning works on whole lines (blocks). It drops a block or keeps it as it is,
so it never rewrites a word; the only changes inside a kept block are to
whitespace and to control characters (dropped: they are never text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import ClassVar

# Lines that belong to comment forms, share footers and data-protection notes,
# in the languages of the blogs we read. Matched on the stripped line.
_BOILERPLATE_LINE = re.compile(
    r"""^(
        .*\bsee\ more\ at:.*
      | no\ hay\ comentarios.*
      | (publicar|deja|dejar|escribe)\ (un\ )?comentario.*
      | (deixe|deixar|publicar)\ (um\ )?coment[aá]rio.*
      | (leave|post|add)\ a\ (comment|reply).*
      | (lasă|lasa|adaugă|adauga)\ un\ comentariu.*
      | (laisser|laissez|ajouter)\ un\ commentaire.*
      | .*(endereço\ de\ e-?mail|dirección\ de\ correo(\ electrónico)?|email\ address|adresa\ (ta\ )?de\ e-?mail)
          .*(não\ será|no\ será|will\ not|nu\ va).*
      | .*(campos\ obrigatórios|campos\ obligatorios|required\ fields|câmpurile\ obligatorii).*
      | [*\s]+
      | (\d+\.\s*)?(responsável|responsable|finalidade|finalidad|legitimação|legitimación|
           comunicação|comunicación|armazenamento|almacenamiento|direitos|derechos|destinatários|
           destinatarios)(\ (pelos|de\ los|dos|de)\ dados|\ (de\ )?los\ datos)?\s*:.*
      | compart(ir|ilhar|e)(\ en|\ no|\ this)?\s*:?\s*(facebook|twitter|whatsapp|linkedin).*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# Where a comment form starts, everything after it is form and legal text.
_COMMENT_FORM_START = re.compile(
    r"^((deixe|deja|leave|lasă|laissez|publicar)\ (um\ |un\ |a\ )?(coment|reply|commentaire|comentariu)"
    r"|no hay comentarios|publicar un comentario)",
    re.IGNORECASE | re.VERBOSE,
)

# Characters that drive a terminal or reorder how a line is shown, never words: C0 controls
# but tab and line feed, DEL, C1 controls, and the bidi embeddings, overrides and isolates.
# Line and page breaks among them become line breaks; the rest are dropped.
_BREAKS = re.compile(r"[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_TITLE_SITE_SUFFIX = re.compile(r"\s+[»|]\s+[^»|]{1,40}$")
_SENTENCE_END = re.compile(r"[.!?؟।]\s")

MIN_REPEATED_BLOCK = 50
MAX_TITLE = 120


@dataclass(frozen=True)
class Cleaned:
    title: str
    text: str
    dropped_boilerplate: int
    dropped_repeats: int


def normalise_line(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


def _key(line: str) -> str:
    return line.casefold()


def clean_text(raw: str) -> Cleaned:
    """Clean a document's text; blocks are joined with one blank line."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = _CONTROLS.sub("", _BREAKS.sub("\n", text))
    lines = [normalise_line(line) for line in text.split("\n")]
    lines = [line for line in lines if line]

    # A comment form in the last part of the article: drop it and what follows.
    cut = len(lines)
    for i, line in enumerate(lines):
        if i >= len(lines) // 2 and _COMMENT_FORM_START.match(line):
            cut = i
            break
    boiler = len(lines) - cut
    lines = lines[:cut]

    kept_boiler = [line for line in lines if not _BOILERPLATE_LINE.match(line)]
    boiler += len(lines) - len(kept_boiler)

    kept, repeats = _drop_repeated_blocks(kept_boiler)
    title = make_title(kept[0]) if kept else ""
    return Cleaned(
        title=title,
        text="\n\n".join(kept),
        dropped_boilerplate=boiler,
        dropped_repeats=repeats,
    )


def _drop_repeated_blocks(lines: list[str]) -> tuple[list[str], int]:
    """Keep the first copy of each repeated paragraph.

    A long line seen before is a repeat. A short line seen before (a heading,
    a caption) is a repeat only inside a run of repeats: a heading that a
    repeated section carries along.
    """
    seen: set[str] = set()
    duplicate = []
    for line in lines:
        key = _key(line)
        duplicate.append(key in seen)
        seen.add(key)
    drop = [dup and len(line) >= MIN_REPEATED_BLOCK for dup, line in zip(duplicate, lines, strict=True)]
    changed = True
    while changed:
        changed = False
        for i in range(len(lines)):
            if drop[i] or not duplicate[i]:
                continue
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(lines)]
            if any(drop[j] for j in neighbours):
                drop[i] = True
                changed = True
    kept = [line for line, d in zip(lines, drop, strict=True) if not d]
    return kept, sum(drop)


def make_title(first_line: str) -> str:
    title = _TITLE_SITE_SUFFIX.sub("", first_line.lstrip("#").strip()).strip()
    if len(title) > MAX_TITLE:
        match = _SENTENCE_END.search(title)
        if match and match.start() < MAX_TITLE:
            title = title[: match.start() + 1]
        else:
            cut = title.rfind(" ", 0, MAX_TITLE)
            title = title[: cut if cut > 0 else MAX_TITLE] + "…"
    return title


class _TextExtractor(HTMLParser):
    _BLOCK: ClassVar[frozenset[str]] = frozenset(
        "p div br li h1 h2 h3 h4 h5 h6 tr section article header footer blockquote pre ul ol table title".split()
    )
    _SKIP: ClassVar[frozenset[str]] = frozenset("script style noscript nav form iframe svg template".split())

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data.replace("\n", " "))


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)  # the parser has already decoded entities, once


# Markdown: the markup goes, the words stay (as with HTML). Line by line, so a
# fenced code block's lines are kept as written.
_MD_FENCE = re.compile(r"^\s*(```|~~~)")
_MD_ATX = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_MD_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_MD_QUOTE = re.compile(r"^\s{0,3}>\s?")
_MD_BULLET = re.compile(r"^(\s*)[*+]\s+")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_MD_CODE = re.compile(r"`([^`]+)`")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])")


def markdown_to_text(markup: str) -> str:
    """The text of a Markdown article: headings without their "#", emphasis,
    links and code without their marks, "*"/"+" bullets as "-"."""
    out: list[str] = []
    fenced = False
    for line in markup.splitlines():
        if _MD_FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            out.append(line)
            continue
        if _MD_SETEXT.match(line) and out and out[-1].strip():
            continue  # the underline of a heading
        if _MD_RULE.match(line) or _MD_LINK_DEFINITION.match(line):
            out.append("")
            continue
        heading = _MD_ATX.match(line)
        if heading:
            line = heading.group(1)
        line = _MD_BULLET.sub(r"\1- ", _MD_QUOTE.sub("", line))
        line = _MD_IMAGE.sub(r"\1", line)
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_REF_LINK.sub(r"\1", line)
        line = _MD_AUTOLINK.sub(r"\1", line)
        line = _MD_CODE.sub(r"\1", line)
        line = _MD_STRONG.sub(r"\2", line)
        line = _MD_EMPHASIS.sub(lambda m: m.group(1) or m.group(2), line)
        out.append(line)
    return "\n".join(out)
