"""``python -m bench`` (``make bench``): run every benchmark and write ``BENCHMARKS.md``.

python -m bench                      # the full report (1k, 10k, 100k passages)
python -m bench --quick              # 1k and 10k, shorter load runs: a few minutes
python -m bench --sizes 1000,10000 --load-seconds 10 --output /tmp/b.md
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import generative, load, quality, scaling, speed
from bench.common import ROOT, Section, machine

log = logging.getLogger("bench")

DEFAULT_SIZES = (1000, 10000, 100000)
QUICK_SIZES = (1000, 10000)
LOAD_LEVELS = (1, 8, 32)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Benchmarks; writes BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true", help="sizes 1k and 10k, 5 s load runs, one round")
    parser.add_argument("--sizes", help="comma-separated corpus sizes in passages (default 1000,10000,100000)")
    parser.add_argument("--rounds", type=int, help="rounds over the dev questions for latency (default 2, quick 1)")
    parser.add_argument("--load-seconds", type=float, help="seconds per concurrency level (default 20, quick 5)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: quality,server,scaling,load")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench", help="scratch folder (wiped first)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    sizes = (
        [int(s) for s in args.sizes.split(",")] if args.sizes else list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    )
    rounds = args.rounds or (1 if args.quick else 2)
    load_seconds = args.load_seconds or (5.0 if args.quick else 20.0)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    started = time.perf_counter()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()
    workdir: Path = args.workdir
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    sections: list[Section] = []

    log.info("core speed")
    settings = speed.make_settings(workdir / "seeds" / "kb")
    prepared = speed.run(settings, rounds)
    kb = prepared.kb
    core = prepared.section
    log.info("profile (embedded)")
    profile = speed.profile(kb, "4. Where a query's time goes (embedded Chroma)")

    quality_section: Section | None = None
    if "quality" not in skip:
        log.info("quality against the tutorial pipeline and BM25")
        quality_section, _ = quality.run(kb, workdir / "quality")
        sections.append(quality_section)

    scaling_section: Section | None = None
    if "scaling" not in skip:
        log.info("scaling %s", sizes)
        scaling_section = scaling.run(settings, workdir / "scaling", sizes, 1)
        sections.append(scaling_section)

    load_section: Section | None = None
    if "load" not in skip:
        log.info("load")
        load_section = load.run(settings.data_dir, list(LOAD_LEVELS), load_seconds)
        sections.append(load_section)

    sections.append(profile)
    if "server" not in skip:
        log.info("profile (Chroma server)")
        sections.append(server_profile(workdir / "server-seeds"))
    sections.append(core)
    log.info("generative")
    sections.append(generative.run(settings))

    elapsed = time.perf_counter() - started
    summary = summarise(quality_section, scaling_section, load_section, core, profile)
    text = render(info, when, elapsed, argv, summary, sections)
    args.output.write_text(text, encoding="utf-8")
    log.info("wrote %s in %.0f s", args.output, elapsed)
    sys.stdout.write(text)
    return 0


def server_profile(workdir: Path) -> Section:
    """The same profile with the store on a Chroma server: ingest the seeds through it, then ask."""
    from kb.service import KnowledgeBase
    from tests.chroma_server import chroma_server

    with chroma_server(workdir / "db") as server:
        settings = speed.make_settings(workdir / "kb", server.url)
        kb = KnowledgeBase(settings)
        report = kb.ingest(speed.SEEDS)
        kb.warm_up()
        section = speed.profile(kb, "4b. Where a query's time goes (Chroma server over HTTP)")
        section.lines.insert(
            0,
            f"The seeds ingested through `chroma run` on 127.0.0.1 ({report.chunks} passages, "
            f"{report.seconds:.1f} s with embedding); the same questions as above.",
        )
        section.lines.insert(1, "")
    return section


def _check(ok: bool) -> str:
    return "✅" if ok else "❌"


def summarise(
    quality_section: Section | None,
    scaling_section: Section | None,
    load_section: Section | None,
    core: Section,
    profile: Section,
) -> list[str]:
    rows: list[list[str]] = []
    if quality_section:
        f = quality_section.figures
        for metric in ("hit@5", "mrr@10"):
            ours, tutorial = f[f"ours {metric}"], f[f"tutorial {metric}"]
            rows.append(
                [
                    f"dev set {metric}: omnikb vs the tutorial pipeline (vs plain BM25)",
                    f"{ours:.2f} vs {tutorial:.2f} ({f[f'bm25 {metric}']:.2f})",
                    _check(ours > tutorial),
                ]
            )
    if scaling_section:
        for mode in ("embedded", "Chroma server"):
            ratio = scaling_section.figures.get(f"{mode} p50 ratio")
            if ratio is not None:
                rows.append(
                    [f"query p50, largest ÷ smallest corpus ({mode}; aim < 3×)", f"{ratio:.2f}×", _check(ratio < 3)]
                )
    if load_section:
        errors = [v for k, v in load_section.figures.items() if k.startswith("errors@")]
        if errors:
            rows.append(["errors under load (1, 8, 32 clients)", f"{int(sum(errors))}", _check(sum(errors) == 0)])
        else:
            rows.append(["errors under load", "not run yet (placeholder)", "…"])
    c = core.figures
    rows.append(
        [
            "`ask` p50 ÷ query-embedding floor p50 (aim ≤ 2×)",
            f"{c['ask/floor']:.2f}× ({c['ask p50 ms']:.0f} / {c['floor p50 ms']:.0f} ms)",
            _check(c["ask/floor"] <= 2),
        ]
    )
    rows.append(
        ["unchanged re-ingest (aim < 1 s)", f"{c['unchanged ingest s']:.3f} s", _check(c["unchanged ingest s"] < 1)]
    )
    rows.append(
        ["share of a query's time that is the query embedding", f"{profile.figures['embedding share']:.0%}", ""]
    )
    lines = ["| check | result | |", "|---|---|---|"]
    lines.extend("| " + " | ".join(r) + " |" for r in rows)
    return lines


def render(
    info: dict[str, str],
    when: str,
    elapsed: float,
    argv: list[str] | None,
    summary: list[str],
    sections: list[Section],
) -> str:
    command = "python -m bench" + (
        " " + " ".join(argv) if argv else (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    )
    head = [
        "# Benchmarks",
        "",
        f"Generated by `{command.strip()}` (`make bench`) on {when}, in {elapsed / 60:.1f} min. "
        "Regenerate with `make bench`; `python -m bench --quick` for a shorter run. Figures are from one run "
        "on the machine below; compare ratios within the run rather than absolute times across machines "
        "(this machine is shared, and its load is given).",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        "",
        "## Summary",
        "",
        *summary,
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(s.render() for s in sections)


if __name__ == "__main__":
    raise SystemExit(main())
