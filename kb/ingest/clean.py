"""Cleaning: boilerplate out, repeated blocks once, whitespace normalised.

Cleaning works on whole lines (blocks). It drops a block or keeps it as it is,
so it never rewrites a word; the only changes inside a kept block are to
whitespace and to control characters (dropped: they are never text).

A listing (a ``<pre>``'s lines, a fenced code block's) is one block of lines,
ended by a line break of its own: "line\nline\n" and then the blank line before
the next block. So the cleaned text itself says which blocks are listings, a
one-line listing too, and chunking never reads a line of code as a heading.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Lines that belong to comment forms, share footers and data-protection notes,
# in the languages of the blogs we read, and image captions that end with
# their credit ("… | Omnicanal.es"). Matched on the stripped line.
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
      | .{1,150}\ \|\ ?(www\.)?[\w-]+(\.[\w-]+)*\.[a-z]{2,6}
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
# Marks a line of a listing on its way from ``html_text`` and ``markdown_text`` to cleaning,
# which drops it: a Unicode noncharacter, meant for a program's own use (loading drops any a file holds).
PREFORMATTED = "\ufdd0"


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
    lines = _blocks(text.split("\n"))

    # A comment form in the last part of the article: drop it and what follows.
    cut = len(lines)
    for i, line in enumerate(lines):
        if i >= len(lines) // 2 and not is_listing(line) and _COMMENT_FORM_START.match(line):
            cut = i
            break
    boiler = len(lines) - cut
    lines = lines[:cut]

    # A listing is the author's, as written: the boilerplate's patterns are for prose lines.
    kept_boiler = [line for line in lines if is_listing(line) or not _BOILERPLATE_LINE.match(line)]
    boiler += len(lines) - len(kept_boiler)

    # A page's title with the site's name ("… » MuyCanal"), then the article's
    # own heading saying the same without it: the heading is kept, once.
    if len(kept_boiler) >= 2 and kept_boiler[0] != kept_boiler[1] and make_title(kept_boiler[0]) == kept_boiler[1]:
        kept_boiler = kept_boiler[1:]
        boiler += 1
    kept, repeats = _drop_repeated_blocks(kept_boiler)
    title = make_title(kept[0].split("\n", 1)[0]) if kept else ""
    return Cleaned(
        title=title,
        text="\n\n".join(kept),
        dropped_boilerplate=boiler,
        dropped_repeats=repeats,
    )


def _blocks(lines: list[str]) -> list[str]:
    """The text's blocks: each line, normalised, empty ones dropped; and each listing (a run
    of lines marked ``PREFORMATTED``; a blank line does not end it) as one block of its lines
    with a line break at its end."""
    found: list[str] = []
    listing: list[str] = []
    for raw in lines:
        line = normalise_line(raw.replace(PREFORMATTED, ""))
        if PREFORMATTED in raw:
            listing += [line] if line else []
        elif line:
            if listing:
                found.append("\n".join(listing) + "\n")
                listing = []
            found.append(line)
    if listing:
        found.append("\n".join(listing) + "\n")
    return found


def is_listing(block: str) -> bool:
    """Whether a block of ``_blocks`` is a listing (it ends with its own line break)."""
    return block.endswith("\n")


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
