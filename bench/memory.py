"""Memory over re-ingests: a process's resident memory after building and dropping
an index again and again, with and without giving the freed memory back
(``kb.index.memory.trim``, which the retriever calls after each switch).

What an app server does at each re-ingest: it builds the new generation's index
(``CorpusIndex.build``) beside the one answering, switches to it, and drops the one
before. Without the trim, glibc kept what the dropped indexes freed: a server grew
by about an index at every re-ingest. The corpus is the scaling section's synthetic
one (the seed articles' sentences recombined, vectors combined, not embedded).

Each mode runs in its own worker process (``python -m bench.memory worker …``), so
its heap is its own.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT, Section, mib, rss_bytes
from bench.scaling import sentence_pool, synthetic_documents
from kb.index import memory
from kb.index.embed import get_embedder
from kb.index.store import Store
from kb.search.retrieve import CorpusIndex
from kb.settings import Settings

log = logging.getLogger(__name__)

# Passages of the synthetic corpus: about the 400-post blog whose server grew at each re-ingest (5,508).
PASSAGES = 5000
# Indexes built and dropped after the first: as many re-ingests as that report's.
SWITCHES = 8
# Seconds a worker may take (a build of 5,000 passages takes about 5 s on two cores).
WORKER_TIMEOUT = 1800
TITLE = "7. Memory over re-ingests: an index built and dropped again and again"


def worker(data_dir: Path, switches: int, trim: bool, out: Path) -> None:
    """Build the active generation's index, then ``switches`` times build another
    and drop the one before, as the retriever does; the resident memory after each."""
    store = Store(Settings(data_dir=data_dir))
    active = store.active()
    assert active is not None, f"no index in {data_dir}"
    baseline = rss_bytes()
    index = CorpusIndex.build(store, active.generation)
    loaded = rss_bytes()
    after: list[int] = []
    for _ in range(switches):
        index = CorpusIndex.build(store, active.generation)  # built beside the one answering, then switched to
        gc.collect()  # all Python frees of the one before, now: what stays is what malloc keeps
        if trim:
            memory.trim()
        after.append(rss_bytes())
    out.write_text(
        json.dumps({"passages": len(index.chunks), "baseline": baseline, "loaded": loaded, "after": after}),
        encoding="utf-8",
    )


def run_worker(data_dir: Path, switches: int, trim: bool) -> dict[str, Any]:
    out = data_dir.parent / f"result-{'trim' if trim else 'no-trim'}.json"
    command = [
        sys.executable,
        "-m",
        "bench.memory",
        "worker",
        "--data-dir",
        str(data_dir),
        "--switches",
        str(switches),
        "--out",
        str(out),
    ]
    if trim:
        command.append("--trim")
    subprocess.run(command, cwd=ROOT, check=True, timeout=WORKER_TIMEOUT)
    return dict(json.loads(out.read_text(encoding="utf-8")))


def write_corpus(settings: Settings, data_dir: Path, passages: int) -> None:
    """The synthetic corpus of ``passages`` passages, as one active generation in ``data_dir``."""
    pool, _ = sentence_pool(settings)
    embedder = get_embedder(settings)
    store = Store(Settings(data_dir=data_dir))
    generation = store.new_generation(embedder.name)
    for doc, chunks, vectors, sparse in synthetic_documents(pool, passages):
        store.add_document(generation, doc, chunks, vectors, sparse)
    store.activate(generation, embedder.name, embedder.dimension)


def run(settings: Settings, workdir: Path, passages: int = PASSAGES, switches: int = SWITCHES) -> Section:
    """Both modes, each in a fresh process, over one synthetic corpus."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "kb"
    write_corpus(settings, data_dir, passages)
    results = {trim: run_worker(data_dir, switches, trim) for trim in (False, True)}
    return _section(results, switches, memory._malloc_trim() is not None)


def _section(results: dict[bool, dict[str, Any]], switches: int, trims: bool) -> Section:
    section = Section(TITLE)
    passages = results[False]["passages"]
    section.add(
        f"A process builds the index of a synthetic corpus of {passages:,} passages (as the scaling section's), "
        f"then {switches} times builds another and drops the one before: what an app server does at each "
        "re-ingest. Each mode runs in a fresh process. **trim** = after each switch, the memory freed is given "
        "back to the system (`kb.index.memory.trim`, glibc's `malloc_trim(0)`; the retriever does it after "
        "every switch); **no trim** = as before it did. Memory is the process's resident size; Δ = over "
        "its size before the first build.",
        "",
    )
    if not trims:
        section.add("> **This C library has no `malloc_trim`**: both modes are the same here.", "")
    rows = []
    for trim, label in ((False, "no trim"), (True, "trim")):
        r = results[trim]
        after = r["after"]
        rows.append(
            [
                label,
                mib(r["baseline"]),
                f"{mib(r['loaded'])} (Δ {mib(r['loaded'] - r['baseline'])})",
                mib(after[0]),
                f"{mib(after[-1])} (Δ {mib(after[-1] - r['baseline'])})",
                mib((after[-1] - after[0]) / max(len(after) - 1, 1)),
            ]
        )
    section.table(
        ["mode", "before", "one index", "after 1 switch", f"after {switches} switches", "growth per switch"],
        rows,
    )
    without, with_trim = results[False]["after"][-1], results[True]["after"][-1]
    ratio = without / max(with_trim, 1)
    section.add(
        f"- After {switches} switches, the process without the trim holds **{ratio:.2f}×** the memory of the one "
        f"with it ({mib(without)} vs {mib(with_trim)}).",
        "",
    )
    section.figures["rss no trim"] = float(without)
    section.figures["rss trim"] = float(with_trim)
    section.figures["rss no trim/trim"] = ratio
    section.figures["switches"] = float(switches)
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--data-dir", type=Path, required=True)
    w.add_argument("--switches", type=int, default=SWITCHES)
    w.add_argument("--trim", action="store_true")
    w.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    worker(args.data_dir, args.switches, args.trim, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
