"""Load: ``POST /api/ask`` under 1, 8 and 32 concurrent clients for a bounded time.

The API server is started as a user would (``python app.py serve --port N``)
on a free loopback port, on the index the core-speed section built, with the
per-address rate limit off (every client here is 127.0.0.1). Each client keeps
one connection and asks the dev questions in turn until the time is up; the
server is stopped afterwards. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import DEVSET, ROOT, Section, percentile, rss_bytes
from kb import evaluation
from tests.chroma_server import free_port

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 180.0
REQUEST_TIMEOUT = 120.0


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: str, seconds: float | None) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if seconds is not None:
                self.latencies.append(seconds)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")


def server_available() -> bool:
    return (ROOT / "kb" / "web" / "server.py").exists()


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _client(port: int, bodies: list[bytes], offset: int, deadline: float, tally: Tally) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    i = offset
    try:
        while time.monotonic() < deadline:
            body = bodies[i % len(bodies)]
            i += 1
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                tally.record(str(response.status), time.perf_counter() - started)
            except (OSError, http.client.HTTPException) as exc:
                tally.record(type(exc).__name__, None)
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    finally:
        conn.close()


def run(data_dir: Path, levels: list[int], seconds: float) -> Section:
    section = Section("3. Load: `/api/ask` under concurrent clients")
    if not server_available():
        section.add(
            "> **PLACEHOLDER** — the API server (`python app.py serve`, `kb/web/server.py`) is not in this tree "
            "yet; this section is filled in by the same command once it is.",
            "",
        )
        return section
    items = evaluation.load_items(DEVSET)
    bodies = [
        json.dumps({"question": i.question, "history": [{"role": "user", "content": h} for h in i.history]}).encode()
        for i in items
    ]
    port = free_port()
    env = {
        **os.environ,
        "KB_DATA_DIR": str(data_dir),
        "KB_RATE_LIMIT": "0",
        "KB_LOG_LEVEL": "WARNING",
        "ANONYMIZED_TELEMETRY": "False",
    }
    env.pop("KB_CHROMA_URL", None)
    log_path = data_dir.parent / "server.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "app.py", "serve", "--host", HOST, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                section.add(
                    f"> **PLACEHOLDER** — `python app.py serve` exited with {process.returncode} before answering:",
                    "",
                    "```",
                    *log_path.read_text(errors="replace").splitlines()[-15:],
                    "```",
                    "",
                )
                return section
            try:
                status, _ = _get(port, "/api/health")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - started > STARTUP_TIMEOUT:
                section.add(
                    f"> **PLACEHOLDER** — the API server did not answer /api/health in {STARTUP_TIMEOUT:.0f} s."
                )
                return section
            time.sleep(0.25)
        startup = time.monotonic() - started
        # One request first, so the model and the index are loaded before timing.
        conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request("POST", "/api/ask", body=bodies[0], headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        finally:
            conn.close()

        rows = []
        for clients in levels:
            tally = Tally()
            deadline = time.monotonic() + seconds
            threads = [
                threading.Thread(target=_client, args=(port, bodies, n * 7, deadline, tally), daemon=True)
                for n in range(clients)
            ]
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=seconds + REQUEST_TIMEOUT + 10)
            elapsed = time.perf_counter() - t0
            done = len(tally.latencies)
            lat = tally.latencies
            rows.append(
                [
                    clients,
                    f"{elapsed:.1f} s",
                    sum(tally.statuses.values()),
                    f"{done / elapsed:.1f}",
                    f"{percentile(lat, 50) * 1000:.0f}",
                    f"{percentile(lat, 95) * 1000:.0f}",
                    f"{percentile(lat, 99) * 1000:.0f}",
                    tally.errors,
                    ", ".join(f"{k}: {v}" for k, v in sorted(tally.statuses.items())),
                ]
            )
            section.figures[f"errors@{clients}"] = float(tally.errors)
            section.figures[f"rps@{clients}"] = done / elapsed
            log.info("load %d clients: %d requests, %d errors", clients, done, tally.errors)
        server_rss = rss_bytes(process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    section.add(
        f"`python app.py serve` (one process, uvicorn) on 127.0.0.1, the five-article index, rate limit off "
        f"(`KB_RATE_LIMIT=0`: every client here has the same address); up and answering /api/health after "
        f"{startup:.1f} s; resident memory after the runs {server_rss / 2**20:.0f} MiB. Each level runs "
        f"{seconds:.0f} s; clients keep their connection and ask the {len(bodies)} dev questions in turn. "
        "A request still running at the deadline is finished and counted. Errors are any status but 200 "
        "and any failed connection.",
        "",
    )
    section.table(
        ["clients", "ran", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "statuses"],
        rows,
    )
    section.add(
        "Throughput is bounded by the query embedder: one CPU model call at a time per process, on two "
        "cores. More clients add queueing (latency) rather than throughput; to serve more, run more app "
        "servers on more machines behind a load balancer, sharing one Chroma server (see the README).",
        "",
    )
    return section
