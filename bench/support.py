"""The support check of generated answers on a small hand-written set
(``bench/data/support_set.json``): sentences in six languages, half saying what
a passage they are given says, half not, some citing the wrong passage.
Reported as a confusion table; the tests hold it to its bar."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.answer.citations import MARKER
from kb.answer.support import SupportCalibration, SupportChecker
from kb.index.embed import Embedder
from kb.models import Hit
from kb.search.retrieve import CorpusIndex

SUPPORT_SET = Path(__file__).resolve().parent / "data" / "support_set.json"
# What the check must do on the set: keep this share of the supported sentences, drop this share of the rest.
KEEP_SUPPORTED = 0.9
DROP_UNSUPPORTED = 0.8


@dataclass
class Confusion:
    kept_supported: int = 0
    dropped_supported: int = 0
    kept_unsupported: int = 0
    dropped_unsupported: int = 0
    # Supported sentences citing the wrong passage, pointed to the right one.
    repointed: int = 0
    wrong_marker: int = 0
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    by_language: dict[str, list[int]] = field(default_factory=dict)  # language -> [right, cases]

    @property
    def keep_rate(self) -> float:
        return self.kept_supported / max(1, self.kept_supported + self.dropped_supported)

    @property
    def drop_rate(self) -> float:
        return self.dropped_unsupported / max(1, self.kept_unsupported + self.dropped_unsupported)

    def table(self) -> list[str]:
        return [
            "| | kept | dropped |",
            "|---|---:|---:|",
            f"| supported | {self.kept_supported} | {self.dropped_supported} |",
            f"| not supported | {self.kept_unsupported} | {self.dropped_unsupported} |",
        ]


def load_set(path: Path = SUPPORT_SET) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def evaluate(embedder: Embedder, index: CorpusIndex, calibration: SupportCalibration) -> Confusion:
    data = load_set()
    hits = tuple(Hit(chunk=index.chunks[index.row[cid]], score=1.0) for cid in data["passages"])
    checker = SupportChecker(embedder)
    result = Confusion()
    for case in data["cases"]:
        checked = checker.check(
            case["sentence"], hits, calibration, language=case["language"], known=index.sentence_vectors
        )
        kept = not checked.dropped
        right = kept == case["supported"]
        if case["supported"]:
            result.kept_supported += kept
            result.dropped_supported += not kept
        else:
            result.kept_unsupported += kept
            result.dropped_unsupported += not kept
        if "by" in case:
            result.wrong_marker += 1
            pointed = {int(n) for n in MARKER.findall(checked.text)}
            result.repointed += kept and pointed == {case["by"]}
        stats = result.by_language.setdefault(case["language"], [0, 0])
        stats[0] += right
        stats[1] += 1
        if not right:
            result.mistakes.append({**case, "kept_as": checked.text})
    return result
