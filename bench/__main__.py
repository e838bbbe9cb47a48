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

from bench import generative, load, memory, quality, scaling, speed
from bench.common import ROOT, Section, machine, mib

log = logging.getLogger("bench")

DEFAULT_SIZES = (1000, 10000, 100000)
QUICK_SIZES = (1000, 10000)
LOAD_LEVELS = (1, 8, 32)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Benchmarks; writes BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true", help="sizes 1k and 10k, 5 s load runs, one round")
    parser.add_argument("--sizes", help="comma-separated corpus sizes in passages (default 1000,10000,100000)")
    parser.add_argument("--rounds", type=int, help="rounds over the dev questions for latency (default 2, quick 1)")
    parser.add_argument("--load-seconds", type=float, help="seconds per concurrency level (default 15, quick 5)")
    parser.add_argument(
        "--skip", default="", help="comma-separated sections to skip: quality,server,scaling,load,memory"
    )
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
    load_seconds = args.load_seconds or (5.0 if args.quick else 15.0)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    started = time.perf_counter()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()
    workdir: Path = args.workdir
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)

    # The report is rewritten after every step, so an interrupted run still leaves what it measured.
    order = ["quality", "scaling", "load", "profile", "server", "core", "generative", "memory"]
    titles = {
        "quality": "1. Quality and speed on the dev set",
        "scaling": "2. Scaling: 1k to 100k passages, embedded and against a Chroma server",
        "load": "3. Load: `/api/ask` under concurrent clients",
        "profile": "4. Where a query's time goes (embedded Chroma)",
        "server": "4b. Where a query's time goes (Chroma server over HTTP)",
        "core": "5. Core speed: ingest and `ask` against the query-embedding floor",
        "generative": "6. Generative mode: time to first token",
        "memory": memory.TITLE,
    }
    done: dict[str, Section] = {}

    def flush(finished: bool = False) -> None:
        sections = []
        for key in order:
            if key in done:
                sections.append(done[key])
            elif key in skip:
                continue
            else:
                pending = Section(titles[key])
                pending.add("> **Not measured in this run**: the run stopped before this section.", "")
                sections.append(pending)
        summary = summarise(
            done.get("quality"),
            done.get("scaling"),
            done.get("load"),
            done["core"],
            done["profile"],
            done.get("memory"),
        )
        text = render(info, when, time.perf_counter() - started, argv, summary, sections, finished)
        args.output.write_text(text, encoding="utf-8")

    log.info("core speed")
    settings = speed.make_settings(workdir / "seeds" / "kb")
    prepared = speed.run(settings, rounds)
    kb = prepared.kb
    done["core"] = prepared.section
    log.info("profile (embedded)")
    done["profile"] = speed.profile(kb, titles["profile"])
    flush()

    if "quality" not in skip:
        log.info("quality against the tutorial pipeline and BM25")
        done["quality"], _ = quality.run(kb, workdir / "quality")
        flush()
    if "load" not in skip:
        log.info("load")
        done["load"] = load.run(settings.data_dir, list(LOAD_LEVELS), load_seconds)
        flush()
    log.info("generative")
    done["generative"] = generative.run(settings)
    flush()
    if "memory" not in skip:
        log.info("memory over re-ingests")
        done["memory"] = memory.run(settings, workdir / "memory")
        flush()
    if "server" not in skip:
        log.info("profile (Chroma server)")
        done["server"] = server_profile(workdir / "server-seeds", titles["server"])
        flush()
    if "scaling" not in skip:
        log.info("scaling %s", sizes)

        def progress(section: Section) -> None:
            done["scaling"] = section
            flush()

        done["scaling"] = scaling.run(settings, workdir / "scaling", sizes, 1, progress)
    flush(finished=True)
    log.info("wrote %s in %.0f s", args.output, time.perf_counter() - started)
    sys.stdout.write(args.output.read_text(encoding="utf-8"))
    return 0


def server_profile(workdir: Path, title: str) -> Section:
    """The same profile with the store on a Chroma server: ingest the seeds through it, then ask."""
    from kb.service import KnowledgeBase
    from tests.chroma_server import chroma_server

    with chroma_server(workdir / "db") as server:
        settings = speed.make_settings(workdir / "kb", server.url)
        kb = KnowledgeBase(settings)
        report = kb.ingest(speed.SEEDS)
        kb.warm_up()
        section = speed.profile(kb, title)
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
    memory_section: Section | None = None,
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
        rows.append(
            [
                "characters a reader reads per answer: omnikb's quotes vs the tutorial's five passages",
                f"{f['ours read']:.0f} vs {f['tutorial read']:.0f}",
                _check(f["ours read"] < f["tutorial read"]),
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
        [
            "cold `kb ask`, whole process (aim ≤ 3 s), beside its reported retrieval",
            f"{c['cold kb ask s']:.2f} s ({c['cold kb ask retrieve ms']:.0f} ms; {c['cold/ask']:.0f}× a warm `ask`)",
            _check(c["cold kb ask s"] <= 3),
        ]
    )
    rows.append(
        ["unchanged re-ingest (aim < 1 s)", f"{c['unchanged ingest s']:.3f} s", _check(c["unchanged ingest s"] < 1)]
    )
    rows.append(
        ["share of a query's time that is the query embedding", f"{profile.figures['embedding share']:.0%}", ""]
    )
    if memory_section:
        m = memory_section.figures
        rows.append(
            [
                f"resident memory after {m['switches']:.0f} index switches, without ÷ with giving freed memory back",
                f"{m['rss no trim/trim']:.2f}× ({mib(m['rss no trim'])} / {mib(m['rss trim'])})",
                "",
            ]
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
    finished: bool = True,
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
        *(
            []
            if finished
            else ["> **This run had not finished when this file was last written**: see the sections marked so.", ""]
        ),
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
