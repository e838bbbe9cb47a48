"""Scores the knowledge base on a question set (format: ``eval/README.md``).

Metrics are what a reader feels: where the first answering passage lands
(hit@k, MRR@10), whether it is met within the first 2,000 characters read,
whether the citations are right (``citation_hit``: one of them is a gold
passage), how many characters a reader reads (``read_chars``: the answer's
text), whether the answer's own quotes carry the
answering words (``quote_hit``) and one of the item's facts (``fact_hit``,
in the answer or its cited text), and whether the system answers or
abstains when it should.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.errors import InputError
from kb.text.words import fold

READING_BUDGET = 2000
METRICS = (
    "hit@1",
    "hit@3",
    "hit@5",
    "mrr@10",
    "hit@2000c",
    "citation_hit",
    "citation_precision",
    "quote_hit",
    "fact_hit",
    "answered",
    "abstained",
    "language_ok",
    "read_chars",
)


@dataclass(frozen=True)
class Gold:
    seed: str
    contains: str


@dataclass(frozen=True)
class EvalItem:
    id: str
    lang: str
    question: str
    history: tuple[str, ...]
    gold: tuple[Gold, ...]
    answerable: bool
    facts: tuple[str, ...]


@dataclass(frozen=True)
class ItemScore:
    item: EvalItem
    values: dict[str, float | None]
    first_rank: int | None


def load_items(path: Path) -> list[EvalItem]:
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the question set {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            items.append(
                EvalItem(
                    id=str(raw["id"]),
                    lang=str(raw["lang"]),
                    question=str(raw["question"]),
                    history=tuple(raw.get("history", [])),
                    gold=tuple(Gold(str(g["seed"]), str(g["contains"])) for g in raw.get("gold", [])),
                    answerable=bool(raw.get("answerable", True)),
                    facts=tuple(raw.get("facts", [])),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{number}: not a question line ({exc})") from exc
    return items


def _equivalent_seeds(seed: str, translations: dict[str, str]) -> set[str]:
    seeds = {seed}
    for a, b in translations.items():
        if a.startswith(seed):
            seeds.add(b[: len(seed)])
    return seeds


def passage_is_gold(passage: dict[str, Any], gold: Sequence[Gold], translations: dict[str, str]) -> bool:
    candidates = [passage, *passage.get("alternatives", [])]
    for g in gold:
        seeds = _equivalent_seeds(g.seed, translations)
        needle = fold(g.contains)
        for p in candidates:
            if any(p["source"].startswith(s) for s in seeds) and needle in fold(p["text"]):
                return True
    return False


def passage_from_gold_seed(passage: dict[str, Any], gold: Sequence[Gold], translations: dict[str, str]) -> bool:
    seeds = set().union(*(_equivalent_seeds(g.seed, translations) for g in gold)) if gold else set()
    return any(passage["source"].startswith(s) for s in seeds)


def score_item(item: EvalItem, answer: dict[str, Any], translations: dict[str, str]) -> ItemScore:
    passages = answer["passages"]
    values: dict[str, float | None] = {m: None for m in METRICS}
    values["language_ok"] = float(answer["language"] == item.lang)
    first: int | None = None
    if item.answerable:
        for rank, passage in enumerate(passages[:10]):
            if passage_is_gold(passage, item.gold, translations):
                first = rank
                break
        values["hit@1"] = float(first is not None and first < 1)
        values["hit@3"] = float(first is not None and first < 3)
        values["hit@5"] = float(first is not None and first < 5)
        values["mrr@10"] = 1.0 / (first + 1) if first is not None else 0.0
        read = 0
        met = False
        for passage in passages:
            if read >= READING_BUDGET:
                break
            if passage_is_gold(passage, item.gold, translations):
                met = True
                break
            read += len(passage["text"])
        values["hit@2000c"] = float(met)
        citations = answer["citations"]
        values["answered"] = float(bool(answer["answered"]))
        if answer["answered"]:
            values["citation_hit"] = float(any(passage_is_gold(c, item.gold, translations) for c in citations))
            if citations:
                good = sum(passage_from_gold_seed(c, item.gold, translations) for c in citations)
                values["citation_precision"] = good / len(citations)
            values["read_chars"] = float(len(answer["answer"]))
            shown = fold(answer["answer"])
            values["quote_hit"] = float(any(fold(g.contains) in shown for g in item.gold))
            if item.facts:
                readable = [shown, *(fold(c["text"]) for c in citations)]
                values["fact_hit"] = float(any(fold(f) in text for f in item.facts for text in readable))
    else:
        values["abstained"] = float(not answer["answered"] and not answer["citations"])
    return ItemScore(item, values, first)


def aggregate(scores: Iterable[ItemScore]) -> dict[str, float | None]:
    rows = list(scores)
    result: dict[str, float | None] = {}
    for metric in METRICS:
        present = [s.values[metric] for s in rows if s.values[metric] is not None]
        result[metric] = sum(v for v in present if v is not None) / len(present) if present else None
    result["n"] = float(len(rows))
    return result


def by_language(scores: Sequence[ItemScore]) -> dict[str, dict[str, float | None]]:
    groups: dict[str, list[ItemScore]] = {}
    for score in scores:
        groups.setdefault(score.item.lang, []).append(score)
    table = {lang: aggregate(group) for lang, group in sorted(groups.items())}
    table["total"] = aggregate(scores)
    return table


def run(
    items: Sequence[EvalItem],
    ask: Callable[[EvalItem], dict[str, Any]],
    translations: dict[str, str],
) -> tuple[list[ItemScore], dict[str, dict[str, float | None]]]:
    scores = [score_item(item, ask(item), translations) for item in items]
    return scores, by_language(scores)


def format_table(table: dict[str, dict[str, float | None]]) -> str:
    headers = ["lang", "n", *METRICS]
    lines = [" ".join(f"{h:>10}" for h in headers)]
    for lang, row in table.items():
        cells = [f"{lang:>10}", f"{int(row['n'] or 0):>10}"]
        for metric in METRICS:
            value = row[metric]
            if value is None:
                cells.append(f"{'-':>10}")
            else:
                cells.append(f"{value:>10.0f}" if metric == "read_chars" else f"{value:>10.2f}")
        lines.append(" ".join(cells))
    return "\n".join(lines)


# -- comparing two runs ---------------------------------------------------------
# A change is judged by the questions it fixes and breaks, per language, on the
# sets it was not tuned on: these are the yes-or-no metrics a question can gain or lose.
COMPARED = ("hit@1", "hit@5", "citation_hit", "quote_hit", "answered", "abstained")
RUN_FORMAT = "omnikb-eval-run/1"


@dataclass(frozen=True)
class Change:
    """The questions one metric fixed and broke between a saved run and this one."""

    metric: str
    fixed: tuple[EvalItem, ...]
    broken: tuple[EvalItem, ...]


@dataclass(frozen=True)
class Comparison:
    saved: Path
    changes: tuple[Change, ...]
    fixed: tuple[EvalItem, ...]  # better on some metric, worse on none
    broken: tuple[EvalItem, ...]  # worse on some metric, better on none
    mixed: tuple[EvalItem, ...]  # better on one, worse on another
    common: int  # questions in both runs
    new: tuple[str, ...]  # ids in this run only
    gone: tuple[str, ...]  # ids in the saved run only


def save_run(scores: Sequence[ItemScore], path: Path, question_set: Path) -> None:
    """Write each question's scores to ``path``, for ``kb eval --against`` to compare with later."""
    record = {
        "format": RUN_FORMAT,
        "question_set": str(question_set),
        "items": {s.item.id: {"lang": s.item.lang, "first_rank": s.first_rank, **s.values} for s in scores},
    }
    try:
        path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot save the run to {path}: {exc.strerror or exc}") from exc


def load_run(path: Path) -> dict[str, dict[str, Any]]:
    """A run saved by ``save_run``: each question's scores, by id."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the saved run {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    except ValueError as exc:
        raise InputError(f"{path} is not a saved run (not JSON: {exc})") from exc
    items = record.get("items") if isinstance(record, dict) and record.get("format") == RUN_FORMAT else None
    if not isinstance(items, dict) or not all(isinstance(v, dict) for v in items.values()):
        raise InputError(f"{path} is not a run saved by `kb eval --save`.")
    return items


def compare(saved: Path, before: Mapping[str, Mapping[str, Any]], scores: Sequence[ItemScore]) -> Comparison:
    """What changed from the run saved at ``saved`` (``before``) to ``scores``, question by question."""
    common = [s for s in scores if s.item.id in before]
    changes = []
    gained: set[str] = set()  # the ids better on some metric
    lost: set[str] = set()  # the ids worse on some metric
    for metric in COMPARED:
        fixed: list[EvalItem] = []
        broken: list[EvalItem] = []
        for score in common:
            then, now = before[score.item.id].get(metric), score.values.get(metric)
            if then is None or now is None or then == now:
                continue
            (fixed if now > then else broken).append(score.item)
            (gained if now > then else lost).add(score.item.id)
        changes.append(Change(metric, tuple(fixed), tuple(broken)))
    items = [s.item for s in common]
    ids = {s.item.id for s in scores}
    return Comparison(
        saved=saved,
        changes=tuple(changes),
        fixed=tuple(i for i in items if i.id in gained and i.id not in lost),
        broken=tuple(i for i in items if i.id in lost and i.id not in gained),
        mixed=tuple(i for i in items if i.id in gained and i.id in lost),
        common=len(common),
        new=tuple(sorted(ids - set(before))),
        gone=tuple(sorted(set(before) - ids)),
    )


def format_comparison(comparison: Comparison) -> str:
    """The comparison as text: per metric, the questions fixed and broken with
    their languages; then the questions that moved at all."""

    def languages(items: Sequence[EvalItem]) -> str:
        counts: dict[str, int] = {}
        for item in items:
            counts[item.lang] = counts.get(item.lang, 0) + 1
        return ", ".join(f"{lang} {n}" for lang, n in sorted(counts.items()))

    def listed(items: Sequence[EvalItem]) -> str:
        return f"{len(items)}" + (f" ({languages(items)}): " + " ".join(i.id for i in items) if items else "")

    lines = [f"Against {comparison.saved} ({comparison.common} questions in both):"]
    for change in comparison.changes:
        if change.fixed or change.broken:
            lines.append(f"  {change.metric:<13} fixed {listed(change.fixed)}")
            lines.append(f"  {'':<13} broken {listed(change.broken)}")
    if not any(change.fixed or change.broken for change in comparison.changes):
        lines.append("  no question changed on " + ", ".join(COMPARED))
    lines.append(
        f"Questions: {len(comparison.fixed)} fixed, {len(comparison.broken)} broken, {len(comparison.mixed)} both"
        " (one or two either way are noise)."
    )
    if comparison.new or comparison.gone:
        only = f"{len(comparison.new)} only in this run, {len(comparison.gone)} only in the saved one"
        lines.append(f"Not compared: {only}.")
    return "\n".join(lines)
