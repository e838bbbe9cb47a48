"""Citations are a step of their own: markers are checked against the passages
and renumbered; no citation is ever taken on the generator's word."""

from __future__ import annotations

import re
from collections.abc import Sequence

from kb.models import Citation, Hit

MARKER = re.compile(r"\[(\d{1,3})\]")


def renumber(text: str, hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """Keep markers that name a passage (1-based into ``hits``), drop the rest,
    and number the cited passages 1..n in order of first mention."""
    order: dict[int, int] = {}

    def replace(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if not 1 <= index <= len(hits):
            return ""
        if index not in order:
            order[index] = len(order) + 1
        return f"[{order[index]}]"

    cleaned = MARKER.sub(replace, text)
    # Collapse what removing markers left behind: "[1][1]" and stray spaces.
    cleaned = re.sub(r"(\[\d+\])(?:\1)+", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]+([.,;:!?؟])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return cleaned, cite(hits, [old - 1 for old, _ in sorted(order.items(), key=lambda item: item[1])])


def cite(hits: Sequence[Hit], indexes: Sequence[int]) -> tuple[Citation, ...]:
    """Citations 1..n for the passages at ``indexes`` (0-based into ``hits``), in that order."""
    return tuple(
        Citation(id=n, chunk=hits[i].chunk, score=hits[i].score, alternatives=hits[i].alternatives)
        for n, i in enumerate(indexes, start=1)
    )
