"""HTML extraction on the eval pages (``eval/html``): fidelity, time, and ingest with either extractor.

    python -m bench.html fidelity [--variant current|trafilatura]  # recall, precision, leaks, ms/page (default current)
    python -m bench.html ingest --variant trafilatura FOLDER        # ``kb ingest FOLDER`` with that extractor

Fidelity compares each page's text, as ``kb.ingest.load`` reads it (extracted and
cleaned), with the text of the article it was rendered from, read the same way
from its Markdown or plain-text source. Lines are compared whitespace, case and
a list item's bullet aside:

- recall: the share of the source's lines that are lines of the page's text
  (a heading run into its paragraph is lost to the chunker, so it counts as missed);
- precision: the share of the page's lines that are in the source's text;
- leaks: the page's lines that hold another post's title or excerpt (the
  sidebar's recent posts, related posts);
- headings: the share of the source's headings that are lines of the page's text.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import logging
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from bench.common import ROOT
from kb.ingest import html as html_module
from kb.ingest import load as load_module
from kb.ingest.chunk import headings
from kb.ingest.clean import PREFORMATTED
from kb.ingest.load import NoArticleText, parse

HTML = ROOT / "eval" / "html"
SETS = {
    "seeds": ROOT / "seeds",
    "coffee": ROOT / "eval" / "blogs" / "coffee",
    "garden": ROOT / "eval" / "blogs" / "garden",
    "running": ROOT / "eval" / "blogs" / "running",
}
_BULLET = re.compile(r"^(?:[•\-*–·▪◦])\s+")


def trafilatura_text(markup: str, favor_precision: bool = False) -> str:
    """The article's text by trafilatura, in the form ``html_to_text`` gives it: the title
    first, then headings, paragraphs and list items each a line ("• ", "1. "), a table's
    rows with " | " between cells, a listing's lines marked ``PREFORMATTED``."""
    import trafilatura

    found = trafilatura.extract(
        markup,
        output_format="xml",
        include_formatting=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        with_metadata=True,
        deduplicate=False,
        favor_precision=favor_precision,
    )
    if not found:
        return ""
    root = ET.fromstring(found)
    out: list[str] = []
    main = root.find("main")
    _walk(main if main is not None else root, out)
    body = "".join(out)
    title = " ".join((root.get("title") or "").split())
    first = next((text for line in body.split("\n") if (text := line.replace(PREFORMATTED, "").strip())), "")
    if title and first and " ".join(first.split()) != title:
        body = title + "\n\n" + body
    return body


_BLOCKS = frozenset(("p", "head", "list", "item", "table", "row", "quote", "code", "div", "main"))


def _walk(element: ET.Element, out: list[str], number: list[int] | None = None) -> None:
    tag = element.tag
    if tag == "lb":
        out.append("\n")
    elif tag == "code" and (element.text or "").count("\n"):
        out.append("\n" + "\n".join(PREFORMATTED + line for line in "".join(element.itertext()).split("\n")) + "\n\n")
        out.append(" ".join((element.tail or "").split("\n")))
        return
    elif tag in _BLOCKS:
        out.append("\n\n" if tag not in ("item", "row") else "\n")
    if tag == "item":
        if number is not None:
            out.append(f"{number[0]}. ")
            number[0] += 1
        else:
            out.append("• ")
    if element.text and tag != "lb":
        out.append(element.text.replace("\n", " "))
    counter = [1] if tag == "list" and (element.get("rend") or "") == "ol" else None
    cells = 0
    for child in element:
        if tag == "row" and child.tag == "cell":
            if cells:
                out.append(" | ")
            cells += 1
        _walk(child, out, counter if tag == "list" else None)
    if tag in _BLOCKS:
        out.append("\n\n" if tag not in ("item", "row") else "\n")
    if element.tail:
        out.append(element.tail.replace("\n", " "))


VARIANTS: dict[str, Callable[[str], str]] = {
    "current": html_module.html_to_text,
    "trafilatura": trafilatura_text,
    "trafilatura-precision": functools.partial(trafilatura_text, favor_precision=True),
}


def use(variant: str) -> None:
    """Have the loader read HTML with ``variant``'s extractor."""
    load_module.html_to_text = VARIANTS[variant]  # type: ignore[assignment]


def _norm(line: str) -> str:
    return " ".join(_BULLET.sub("", line.replace(PREFORMATTED, "").strip()).split()).casefold()


def _lines(text: str) -> list[str]:
    return [n for line in text.split("\n") if (n := _norm(line))]


@dataclass(frozen=True)
class Fidelity:
    pages: int
    recall: float
    precision: float
    leaks: int
    headings: float
    ms_per_page: float
    worst: tuple[str, float, float]  # the page with the lowest recall, with its recall and precision


def _seconds(name: str, raw: bytes, runs: int = 5) -> float:
    """The fastest of ``runs`` reads of a page (extraction, cleaning, language), on a shared machine."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        try:
            parse(name, raw)
        except NoArticleText:
            pass
        best = min(best, time.perf_counter() - started)
    return best


def fidelity(name: str, variant: str) -> tuple[Fidelity, list[tuple[str, float, float, list[str]]]]:
    use(variant)
    sources = {p.stem: p for p in SETS[name].iterdir() if p.suffix in (".md", ".txt")}
    refs = {stem: parse(path.name, path.read_bytes()).text for stem, path in sources.items()}
    # What the sidebars and related posts show of each post: its title and its first paragraph's opening.
    marks = {
        stem: [_lines(text)[0]] + [line[:60] for line in _lines(text)[1:3] if len(line) > 60]
        for stem, text in refs.items()
    }
    found, kept, total, leaks, head_hit, head_total, elapsed = 0, 0, 0, 0, 0, 0, 0.0
    ref_lines = 0
    per_page = []
    first = next(iter(sorted((HTML / name).glob("*.html"))))
    parse(first.name, first.read_bytes())  # imports and caches, not timed
    for page in sorted((HTML / name).glob("*.html")):
        raw = page.read_bytes()
        try:
            text = parse(page.name, raw).text
        except NoArticleText:  # nothing found: a page lost whole
            text = ""
        elapsed += _seconds(page.name, raw)
        ref = _lines(refs[page.stem])
        got = _lines(text)
        got_set = set(got)
        whole = "\n".join(ref)
        hit = sum(line in got_set for line in ref)
        good = sum(line in whole for line in got)
        page_leaks = [
            line
            for line in got
            if line not in whole
            and any(m in line for stem, ms in marks.items() if stem != page.stem for m in ms)
        ]
        heads = [_norm(h) for h in headings(refs[page.stem])]
        found += hit
        ref_lines += len(ref)
        kept += good
        total += len(got)
        leaks += len(page_leaks)
        head_hit += sum(h in got_set for h in heads)
        head_total += len(heads)
        extra = [line for line in got if line not in whole]
        per_page.append((page.name, hit / max(1, len(ref)), good / max(1, len(got)), extra))
    worst = min(per_page, key=lambda p: p[1])
    result = Fidelity(
        pages=len(per_page),
        recall=found / max(1, ref_lines),
        precision=kept / max(1, total),
        leaks=leaks,
        headings=head_hit / max(1, head_total),
        ms_per_page=1000 * elapsed / max(1, len(per_page)),
        worst=(worst[0], worst[1], worst[2]),
    )
    return result, per_page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.html")
    sub = parser.add_subparsers(dest="command", required=True)
    fid = sub.add_parser("fidelity")
    fid.add_argument("--variant", choices=sorted(VARIANTS), action="append")
    fid.add_argument("--details", action="store_true")
    ing = sub.add_parser("ingest")
    ing.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    ing.add_argument("folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    variants = [args.variant] if args.command == "ingest" else (args.variant or ["current"])
    if any(v.startswith("trafilatura") for v in variants) and importlib.util.find_spec("trafilatura") is None:
        # A library trial: trafilatura is not a dependency of omnikb.
        sys.stderr.write("the trafilatura variants need it installed first: .venv/bin/pip install trafilatura\n")
        return 2
    if args.command == "ingest":
        use(args.variant)
        from kb.cli import main as kb_main

        return kb_main(["ingest", args.folder])
    print("| set | variant | pages | line recall | line precision | other posts' lines | headings | ms/page |")
    print("|---|---|---|---|---|---|---|---|")
    for variant in variants:
        for name in SETS:
            result, pages = fidelity(name, variant)
            print(
                f"| {name} | {variant} | {result.pages} | {result.recall:.3f} | {result.precision:.3f} | "
                f"{result.leaks} | {result.headings:.3f} | {result.ms_per_page:.1f} |"
            )
            if args.details:
                for page, recall, precision, extra in pages:
                    print(f"    {page}: recall {recall:.3f} precision {precision:.3f}", file=sys.stderr)
                    for line in extra:
                        print(f"        + {line[:110]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
