#!/usr/bin/env python
"""Benchmark django-chatkit-backend against the peers' architecture. One command:

    python benchmarks/run.py            # full run, ~10 minutes on 2 cores
    python benchmarks/run.py --quick    # smaller and shorter, under ~2 minutes
    python benchmarks/run.py --profile  # cProfile of turns in-process, top 30 cumulative

Servers run as subprocesses (uvicorn, one worker, no access log) on free 127.0.0.1 ports
and are stopped on exit, errors included. Results: benchmarks/results/latest.json and
latest.md (``--write-readme`` also puts the table into benchmarks/README.md). See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import math
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PYTHON = sys.executable
# Where the servers import the code from: a snapshot of the tree taken at the start (others may
# be editing the working tree while the benchmark runs), or the tree itself (--live-code).
SRC = REPO
SNAPSHOT = ("chatkit_backend", "example_project", "benchmarks", "manage.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"
# Inherited variables that would change what the servers do, or reach the network.
SCRUBBED = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "LLM_PROVIDER",
    "LLM_MODEL",
    "LLM_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GEMINI_API_KEY",
    "BENCH_WORDS",
    "BENCH_DELTA_DELAY",
)

TARGETS = {
    "tput_10_sqlite": ("throughput at 10 clients, SQLite", ">= 1.5x baseline"),
    "tput_10_postgres": ("throughput at 10 clients, PostgreSQL", ">= 1.3x baseline"),
    "tput_1": ("throughput at 1 client", ">= 1.0x baseline"),
    "ttfe_1": ("TTFE p50 at 1 client", "<= baseline"),
    "queries": ("queries per plain text turn (10 and 2,000 items)", "<= 8, same for both"),
    "long_thread": ("turn on 2,000 items vs 10 items", "<= 1.2x"),
    "items_list": ("items.list deep in 100,000 items", "< 5 ms"),
    "memory": ("500 slow streams on one worker", "no errors, < 0.5 MB RSS per stream"),
}


# -- small helpers -------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle, not waiting for I/O), from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS (kB) and Threads of a process, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in (
        "django",
        "openai-chatkit",
        "openai-agents",
        "pydantic",
        "uvicorn",
        "starlette",
        "httpx",
        "psycopg",
        "uvloop",
        "httptools",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def source_digest(root: Path = REPO) -> str:
    """A digest of the code under test (chatkit_backend/, example_project/)."""
    import hashlib

    digest = hashlib.sha256()
    for folder in ("chatkit_backend", "example_project"):
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            with contextlib.suppress(OSError):
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def snapshot_code(work: Path) -> Path:
    """Copy the code the servers run into ``work``, so edits made meanwhile do not leak in."""
    target = work / "src"
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3*", "media", "results")
    for name in SNAPSHOT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, target / name)
    return target


def tree_state() -> str:
    """The commit, and whether the code under test differs from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "chatkit_backend", "example_project"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit} plus uncommitted changes" if dirty else commit


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
    }


# -- servers -------------------------------------------------------------------------------


class ServerProc:
    """One uvicorn process (one worker, no access log) on a free 127.0.0.1 port."""

    registry: list[ServerProc] = []
    # --pin: the CPU every server (all its threads) is confined to; None leaves it to the OS.
    cpu: int | None = None

    def __init__(self, name: str, app: str, env: dict[str, str], log_dir: Path):
        self.name = name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "uvicorn",
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--no-access-log",
                "--log-level",
                "warning",
                "--timeout-keep-alive",
                "30",
            ],
            cwd=SRC,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if ServerProc.cpu is not None:
            # Before the app is imported, no thread exists yet: all threads inherit it.
            os.sched_setaffinity(self.process.pid, {ServerProc.cpu})
        ServerProc.registry.append(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/bench/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with contextlib.suppress(ValueError):
            ServerProc.registry.remove(self)
        self._log.close()

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.registry):
            with contextlib.suppress(Exception):
                server.stop()


def base_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        OPENAI_AGENTS_DISABLE_TRACING="1",
        # No provider key anywhere: nothing can reach a model service.
        OPENAI_API_KEY="",
        GEMINI_API_KEY="",
    )
    env.update(extra)
    return env


def site_env(database_url: str, words: int) -> dict[str, str]:
    return base_env(
        DJANGO_SETTINGS_MODULE="benchmarks.bench_settings",
        DATABASE_URL=database_url,
        BENCH_WORDS=str(words),
    )


def prepare_site(database_url: str, plan: dict[str, Any], words: int) -> dict[str, Any]:
    result = subprocess.run(
        [PYTHON, "-m", "benchmarks.site_tool", json.dumps(plan)],
        cwd=SRC,
        env=site_env(database_url, words),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"site_tool failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def postgres_database(admin_url: str):
    """A fresh database on the PostgreSQL server, dropped afterwards."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"chatkit_bench_{os.getpid()}_{secrets.token_hex(2)}"
    parts = urlsplit(admin_url)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with (
            contextlib.suppress(Exception),
            psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection,
        ):
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the client ----------------------------------------------------------------------------


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def create_body(text: str = "Hello from the benchmark") -> bytes:
    return json.dumps({"type": "threads.create", "params": {"input": user_input(text)}}).encode()


def add_body(thread_id: str, text: str = "And another question") -> bytes:
    return json.dumps(
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_input(text)},
        }
    ).encode()


@dataclass
class Target:
    name: str
    server: ServerProc
    path: str
    tokens: list[str] = field(default_factory=list)

    def headers(self, index: int = 0, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[index % len(self.tokens)]}"
        headers.update(extra or {})
        return headers


@dataclass
class TurnResult:
    ok: bool
    start: float
    end: float
    ttfe: float | None = None
    thread_id: str | None = None
    error: str | None = None
    events: int = 0

    @property
    def total(self) -> float:
        return self.end - self.start


DELTA_MARK = b'"assistant_message.content_part.text_delta"'


def _error_text(text: str) -> str:
    """An error body in a few words: an HTML page's title, else the start of the text."""
    if "<title>" in text:
        return text.split("<title>", 1)[1].split("</title>", 1)[0].strip()[:100]
    return " ".join(text.split())[:100]


async def turn(
    client: Any,
    target: Target,
    body: bytes,
    *,
    words: int,
    client_index: int = 0,
    extra_headers: dict[str, str] | None = None,
    on_first_event: Any = None,
) -> TurnResult:
    """One streaming request; checks the stream carried a whole answer and no error event."""
    start = time.perf_counter()
    ttfe = None
    buffer = bytearray()
    try:
        async with client.stream(
            "POST",
            target.path,
            content=body,
            headers=target.headers(client_index, extra_headers),
        ) as response:
            if response.status_code != 200:
                await response.aread()
                return TurnResult(
                    False,
                    start,
                    time.perf_counter(),
                    error=f"HTTP {response.status_code}: {_error_text(response.text)}",
                )
            async for chunk in response.aiter_raw():
                buffer += chunk
                if ttfe is None and b"data:" in buffer:
                    ttfe = time.perf_counter() - start
                    if on_first_event is not None:
                        on_first_event()
    except Exception as error:  # every failure is counted, whatever it is
        return TurnResult(
            False, start, time.perf_counter(), ttfe, error=f"{type(error).__name__}: {error}"[:200]
        )
    end = time.perf_counter()
    events = buffer.count(b"data: ")
    if b'"type":"error"' in buffer:
        at = buffer.find(b'"type":"error"')
        return TurnResult(
            False, start, end, ttfe, error=f"error event: {bytes(buffer[at : at + 160])!r}"
        )
    deltas = buffer.count(DELTA_MARK)
    if deltas != words or not buffer.endswith(b"\n\n"):
        return TurnResult(
            False, start, end, ttfe, error=f"incomplete stream: {deltas}/{words} deltas"
        )
    thread_id = None
    if buffer.startswith(b'data: {"type":"thread.created"'):
        first = json.loads(buffer[6 : buffer.index(b"\n\n")])
        thread_id = first["thread"]["id"]
    return TurnResult(True, start, end, ttfe, thread_id=thread_id, events=events)


def http_client(connections: int, read_timeout: float = 60.0) -> Any:
    import httpx

    return httpx.AsyncClient(
        base_url="http://127.0.0.1",  # replaced per target below
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(connect=30.0, read=read_timeout, write=30.0, pool=read_timeout),
        http1=True,
        trust_env=False,  # never a proxy: loopback only
    )


def client_for(target: Target, connections: int, read_timeout: float = 60.0) -> Any:
    client = http_client(connections, read_timeout)
    client.base_url = target.server.base_url
    return client


def summarize_errors(results: list[TurnResult]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for result in results:
        if not result.ok:
            key = (result.error or "?")[:120]
            errors[key] = errors.get(key, 0) + 1
    return errors


async def closed_loop(
    target: Target,
    *,
    concurrency: int,
    duration: float,
    max_turns: int,
    words: int,
    warmup: int,
    cycle: int = 5,
) -> dict[str, Any]:
    """``concurrency`` clients, each: threads.create, then ``cycle - 1`` add_user_message on
    that thread, again and again, until ``duration`` seconds or ``max_turns`` turns."""
    async with client_for(target, concurrency + 2) as client:
        # Warm-up on the same connections: not measured.
        warm = [
            turn(client, target, create_body(), words=words, client_index=i)
            for i in range(max(warmup, concurrency))
        ]
        warm_results = await asyncio.wait_for(asyncio.gather(*warm), timeout=120)
        warm_errors = summarize_errors(warm_results)

        results: list[TurnResult] = []
        cpu_before = cpu_seconds(target.server.pid)
        client_cpu_before = time.process_time()
        busy_before = machine_busy_seconds()
        start = time.perf_counter()
        deadline = start + duration

        async def client_loop(index: int) -> None:
            thread_id: str | None = None
            step = 0
            while time.perf_counter() < deadline and len(results) < max_turns:
                body = (
                    create_body() if step % cycle == 0 or thread_id is None else add_body(thread_id)
                )
                result = await turn(client, target, body, words=words, client_index=index)
                results.append(result)
                if result.thread_id:
                    thread_id = result.thread_id
                step = step + 1 if result.ok else 0
                if not result.ok:
                    thread_id = None

        await asyncio.wait_for(
            asyncio.gather(*(client_loop(i) for i in range(concurrency))),
            timeout=duration + 120,
        )
        elapsed = max((r.end for r in results), default=time.perf_counter()) - start
        server_cpu = cpu_seconds(target.server.pid) - cpu_before
        client_cpu = time.process_time() - client_cpu_before
        # Whatever else ran on the machine meanwhile (other processes, PostgreSQL): noise for
        # SQLite runs, partly our own database work for PostgreSQL runs.
        other_cpu = machine_busy_seconds() - busy_before - server_cpu - client_cpu
    ok = [r for r in results if r.ok]
    ttfe = [r.ttfe for r in ok if r.ttfe is not None]
    totals = [r.total for r in ok]
    return {
        "turns": len(ok),
        "errors": len(results) - len(ok),
        "error_kinds": summarize_errors(results),
        "warmup_errors": warm_errors,
        "seconds": round(elapsed, 3),
        "turns_per_s": round(len(ok) / elapsed, 2) if elapsed > 0 else 0.0,
        "ttfe_p50_ms": ms(pct(ttfe, 50)),
        "ttfe_p95_ms": ms(pct(ttfe, 95)),
        "turn_p50_ms": ms(pct(totals, 50)),
        "turn_p95_ms": ms(pct(totals, 95)),
        "server_cpu_ms_per_turn": round(server_cpu * 1000 / len(ok), 2) if ok else None,
        "server_cpu_util": round(server_cpu / elapsed, 2) if elapsed > 0 else None,
        "client_cpu_util": round(client_cpu / elapsed, 2) if elapsed > 0 else None,
        "other_cpu_util": round(max(0.0, other_cpu) / elapsed, 2) if elapsed > 0 else None,
        "_ttfe": ttfe,
    }


def pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds of one target and concurrency, pooled."""
    turns = sum(r["turns"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    ttfe = [t for r in runs for t in r["_ttfe"]]
    cpu = [r["server_cpu_ms_per_turn"] for r in runs if r["server_cpu_ms_per_turn"] is not None]
    errors: dict[str, int] = {}
    for run in runs:
        for key, count in {**run["error_kinds"], **run["warmup_errors"]}.items():
            errors[key] = errors.get(key, 0) + count
    return {
        "turns": turns,
        "errors": sum(r["errors"] for r in runs),
        "error_kinds": errors,
        "turns_per_s": round(turns / seconds, 2) if seconds else 0.0,
        "turns_per_s_rounds": [r["turns_per_s"] for r in runs],
        "ttfe_p50_ms": ms(pct(ttfe, 50)),
        "ttfe_p95_ms": ms(pct(ttfe, 95)),
        "turn_p50_ms": (
            statistics.median(p50s)
            if (p50s := [r["turn_p50_ms"] for r in runs if r["turn_p50_ms"]])
            else None
        ),
        "server_cpu_ms_per_turn": round(statistics.median(cpu), 2) if cpu else None,
        "server_cpu_util": statistics.median(r["server_cpu_util"] or 0 for r in runs),
        "client_cpu_util": statistics.median(r["client_cpu_util"] or 0 for r in runs),
        "other_cpu_util": statistics.median(r["other_cpu_util"] or 0 for r in runs),
    }


async def throughput(targets: list[Target], cfg: argparse.Namespace, words: int) -> dict[str, Any]:
    """Alternate the targets round by round (the order rotates) at 1 and 10 clients."""
    out: dict[str, Any] = {}
    for concurrency in (1, 10):
        runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
        for round_index in range(cfg.rounds):
            order = targets[round_index % len(targets) :] + targets[: round_index % len(targets)]
            for target in order:
                result = await closed_loop(
                    target,
                    concurrency=concurrency,
                    duration=cfg.duration,
                    max_turns=cfg.max_turns,
                    words=words,
                    warmup=cfg.warmup,
                )
                runs[target.name].append(result)
                log(
                    f"  {concurrency:>2} clients, round {round_index + 1}, {target.name:<6}"
                    f" {result['turns_per_s']:8.1f} turns/s  ttfe p50 {result['ttfe_p50_ms']} ms"
                    f"  cpu {result['server_cpu_ms_per_turn']} ms/turn  errors {result['errors']}"
                    f"  other cpu {result['other_cpu_util']}"
                )
        summary: dict[str, Any] = {name: pooled(r) for name, r in runs.items()}
        if "peer" in runs:
            # Each round's ratio compares runs made seconds apart; their median is the figure
            # (a burst of background load hits one round, not the result).
            for name, entry in summary.items():
                rounds = [
                    a["turns_per_s"] / b["turns_per_s"]
                    for a, b in zip(runs[name], runs["peer"], strict=False)
                    if b["turns_per_s"]
                ]
                entry["vs_peer_rounds"] = [round(r, 3) for r in rounds]
                entry["vs_peer"] = round(statistics.median(rounds), 3) if rounds else None
            summary["ratio_vs_peer"] = summary.get("ours", {}).get("vs_peer")
        out[str(concurrency)] = summary
    return out


# -- queries, long threads, items.list ------------------------------------------------------

TX_VERBS = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


async def query_counts(client: Any) -> dict[str, Any]:
    response = await client.get("/bench/queries")
    return response.json()


def query_delta(before: dict[str, Any], after: dict[str, Any], turns: int) -> dict[str, Any]:
    verbs = {
        verb: after["by_verb"].get(verb, 0) - before["by_verb"].get(verb, 0)
        for verb in after["by_verb"]
    }
    data = sum(count for verb, count in verbs.items() if verb not in TX_VERBS)
    tx = sum(count for verb, count in verbs.items() if verb in TX_VERBS)
    return {
        "queries_per_turn": round(data / turns, 2),
        "transaction_statements_per_turn": round(tx / turns, 2),
        "by_verb_per_turn": {verb: round(count / turns, 2) for verb, count in verbs.items()},
        "connections_per_turn": round(
            (after["connections_opened"] - before["connections_opened"]) / turns, 2
        ),
        "turns": turns,
    }


async def measure_queries(
    target: Target, threads10: list[str], thread2000: str, words: int, turns: int
) -> dict[str, Any]:
    """Statements the server ran per turn, sequentially (nothing else runs meanwhile)."""
    out: dict[str, Any] = {}
    async with client_for(target, 2) as client:
        # threads.create turns (the first turn of a thread also saves its title).
        before = await query_counts(client)
        for _ in range(turns):
            result = await turn(client, target, create_body(), words=words)
            if not result.ok:
                raise RuntimeError(f"query phase turn failed: {result.error}")
        out["create"] = query_delta(before, await query_counts(client), turns)
        for label, ids in (("add_10_items", threads10), ("add_2000_items", [thread2000] * turns)):
            before = await query_counts(client)
            for thread_id in ids[:turns]:
                result = await turn(client, target, add_body(thread_id), words=words)
                if not result.ok:
                    raise RuntimeError(f"query phase turn failed: {result.error}")
            after = await query_counts(client)
            out[label] = query_delta(before, after, turns)
        # The statements of one more add_user_message turn, for whoever optimises.
        before = await query_counts(client)
        await turn(client, target, add_body(thread2000), words=words)
        after = (await client.get("/bench/queries", params={"recent": 400})).json()
        count = after["total"] - before["total"]
        out["statements_of_one_add_turn"] = after["recent"][-count:] if count else []
    return out


async def long_thread(
    pairs: dict[str, tuple[Target, list[str], list[str]]], words: int, turns: int
) -> dict[str, Any]:
    """Sequential add_user_message turns on 10-item and 2,000-item threads, interleaved
    (ours-10, ours-2000, peer-10, peer-2000, ...) so drift hits all alike. A 10-item thread
    takes one turn; a 2,000-item thread takes at most a handful."""
    samples: dict[tuple[str, str], list[TurnResult]] = {}
    cpu: dict[tuple[str, str], float] = {}
    clients = {}
    async with contextlib.AsyncExitStack() as stack:
        for name, (target, _, _) in pairs.items():
            clients[name] = await stack.enter_async_context(client_for(target, 2))
            # warm-up
            for _ in range(3):
                await turn(clients[name], target, create_body(), words=words)
        for index in range(turns):
            for name, (target, short, long) in pairs.items():
                for size, ids in (("10", short), ("2000", long)):
                    thread_id = ids[index % len(ids)]
                    before = cpu_seconds(target.server.pid)
                    result = await turn(clients[name], target, add_body(thread_id), words=words)
                    cpu[(name, size)] = cpu.get((name, size), 0.0) + (
                        cpu_seconds(target.server.pid) - before
                    )
                    samples.setdefault((name, size), []).append(result)
    out: dict[str, Any] = {}
    for name in pairs:
        entry: dict[str, Any] = {}
        for size in ("10", "2000"):
            results = samples[(name, size)]
            ok = [r for r in results if r.ok]
            entry[size] = {
                "turns": len(ok),
                "errors": len(results) - len(ok),
                "error_kinds": summarize_errors(results),
                "turn_p50_ms": ms(pct([r.total for r in ok], 50)),
                "turn_mean_ms": ms(statistics.fmean(r.total for r in ok)) if ok else None,
                "ttfe_p50_ms": ms(pct([r.ttfe for r in ok if r.ttfe], 50)),
                "server_cpu_ms_per_turn": round(cpu[(name, size)] * 1000 / len(ok), 2)
                if ok
                else None,
            }
        if entry["10"]["turn_p50_ms"] and entry["2000"]["turn_p50_ms"]:
            entry["ratio_2000_vs_10"] = round(
                entry["2000"]["turn_p50_ms"] / entry["10"]["turn_p50_ms"], 3
            )
        out[name] = entry
    return out


def items_list_body(thread_id: str, after: str | None, order: str, limit: int = 20) -> bytes:
    params: dict[str, Any] = {"thread_id": thread_id, "limit": limit, "order": order}
    if after:
        params["after"] = after
    return json.dumps({"type": "items.list", "params": params}).encode()


async def items_list(
    target: Target, cases: dict[str, tuple[str, str | None, str]], requests: int
) -> dict[str, Any]:
    """Wall time of items.list requests on loopback (one connection, sequential), and the
    server's own time from ``Server-Timing`` when it sends one."""
    out: dict[str, Any] = {}
    async with client_for(target, 2) as client:
        for label, (thread_id, after, order) in cases.items():
            body = items_list_body(thread_id, after, order)
            walls: list[float] = []
            server: list[float] = []
            errors: dict[str, int] = {}
            for index in range(requests + 5):
                start = time.perf_counter()
                try:
                    response = await client.post(
                        target.path, content=body, headers=target.headers()
                    )
                    wall = time.perf_counter() - start
                    page = response.json()
                    if response.status_code != 200 or len(page.get("data", [])) != 20:
                        raise ValueError(f"HTTP {response.status_code}, {str(page)[:100]}")
                except Exception as error:
                    key = f"{type(error).__name__}: {error}"[:120]
                    errors[key] = errors.get(key, 0) + 1
                    continue
                if index < 5:
                    continue  # warm-up
                walls.append(wall)
                timing = response.headers.get("server-timing", "")
                if "dur=" in timing:
                    server.append(float(timing.split("dur=", 1)[1].split(";")[0]) / 1000)
            out[label] = {
                "requests": len(walls),
                "errors": errors,
                "wall_p50_ms": ms(pct(walls, 50)),
                "wall_p95_ms": ms(pct(walls, 95)),
                "server_p50_ms": ms(pct(server, 50)),
                "server_p95_ms": ms(pct(server, 95)),
            }
    return out


# -- memory with slow streams ----------------------------------------------------------------


async def slow_streams(
    target: Target, *, streams: int, words: int, delay: float, warm_words: int
) -> dict[str, Any]:
    """``streams`` concurrent threads.create turns, one delta per ``delay`` seconds, on a
    freshly started server warmed up with fast turns. RSS before (idle) and during."""
    pid = target.server.pid
    async with client_for(target, 12) as client:
        warm = await asyncio.gather(
            *(
                turn(client, target, create_body(), words=warm_words, client_index=i)
                for i in range(20)
            )
        )
    await asyncio.sleep(1.0)
    idle = proc_status(pid)
    open_streams = 0
    max_open = 0
    samples: list[dict[str, Any]] = []
    finished = 0

    def opened() -> None:
        nonlocal open_streams, max_open
        open_streams += 1
        max_open = max(max_open, open_streams)

    async def one(client: Any, index: int) -> TurnResult:
        nonlocal open_streams, finished
        result = await turn(
            client,
            target,
            create_body(),
            words=words,
            client_index=index,
            extra_headers={"X-Bench-Words": str(words), "X-Bench-Delay": str(delay)},
            on_first_event=opened,
        )
        if result.ttfe is not None:
            open_streams -= 1
        finished += 1
        return result

    ideal = words * delay
    start = time.perf_counter()
    async with client_for(target, streams + 10, read_timeout=max(60.0, ideal)) as client:
        tasks = [asyncio.create_task(one(client, i)) for i in range(streams)]

        async def sampler() -> None:
            while finished < streams:
                status = proc_status(pid)
                samples.append(
                    {
                        "t": round(time.perf_counter() - start, 2),
                        "rss_kb": status["VmRSS"],
                        "threads": status.get("Threads"),
                        "open": open_streams,
                    }
                )
                await asyncio.sleep(0.25)

        sampling = asyncio.create_task(sampler())
        try:
            results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=ideal * 4 + 120)
        finally:
            for task in tasks:
                task.cancel()
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
    elapsed = time.perf_counter() - start
    await asyncio.sleep(1.0)
    after = proc_status(pid)
    peak = max(samples, key=lambda s: s["rss_kb"]) if samples else {"rss_kb": idle["VmRSS"]}
    at_max_open = [s for s in samples if s["open"] == max_open] or samples
    rss_at_max_open = max(s["rss_kb"] for s in at_max_open) if at_max_open else idle["VmRSS"]
    ok = [r for r in results if r.ok]
    return {
        "streams": streams,
        "words": words,
        "delta_delay_s": delay,
        "ideal_stream_s": round(ideal, 2),
        "completed": len(ok),
        "errors": len(results) - len(ok),
        "error_kinds": summarize_errors(results),
        "warmup_errors": summarize_errors(list(warm)),
        "max_open_at_once": max_open,
        "rss_idle_mb": round(idle["VmRSS"] / 1024, 1),
        "rss_peak_mb": round(peak["rss_kb"] / 1024, 1),
        "rss_with_max_open_mb": round(rss_at_max_open / 1024, 1),
        "rss_after_mb": round(after["VmRSS"] / 1024, 1),
        # Per stream that was actually open (all of them, unless some failed to start).
        "rss_per_stream_mb": round((peak["rss_kb"] - idle["VmRSS"]) / 1024 / max(1, max_open), 3),
        "threads_idle": idle.get("Threads"),
        "threads_peak": max((s["threads"] or 0 for s in samples), default=None),
        "stream_p50_s": round(pct([r.total for r in ok], 50) or 0, 2),
        "stream_max_s": round(max((r.total for r in ok), default=0), 2),
        "ttfe_p50_ms": ms(pct([r.ttfe for r in ok if r.ttfe], 50)),
        "ttfe_p95_ms": ms(pct([r.ttfe for r in ok if r.ttfe], 95)),
        "elapsed_s": round(elapsed, 2),
        "samples": samples[:: max(1, len(samples) // 40)],
    }


# -- the run -------------------------------------------------------------------------------


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def run_benchmark(cfg: argparse.Namespace, work: Path) -> dict[str, Any]:
    words = cfg.words
    results: dict[str, Any] = {
        "meta": {
            "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
            "mode": "quick" if cfg.quick else "full",
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions(),
            "open_files_limit": raise_open_files_limit(),
            "words_per_answer": words,
            "duration_s": cfg.duration,
            "rounds": cfg.rounds,
            "big_thread_items": cfg.big_items,
            "load_average_start": load_now(),
            "server_pinned_to_cpu": ServerProc.cpu,
            "code_start": tree_state(),
            "code_source": "snapshot" if SRC != REPO else "live working tree",
            "source_digest_start": source_digest(SRC),
        },
        "throughput": {},
        "queries": {},
        "long_thread": {},
        "items_list": {},
        "memory": {},
        "problems": [],
    }
    long_turns = cfg.long_turns
    query_turns = cfg.query_turns
    n_long_threads = math.ceil(long_turns / 5)
    plan = {
        "users": 10,
        "threads": {
            "10": long_turns + query_turns,
            "2000": n_long_threads + 1,
            str(cfg.big_items): 1,
        },
    }

    log("starting the peer app and the floor")
    peer = Target(
        "peer",
        ServerProc("peer", "benchmarks.peer_app:app", base_env(BENCH_WORDS=str(words)), work),
        "/chatkit",
    )
    floor = Target(
        "floor",
        ServerProc("floor", "benchmarks.floor_app:app", base_env(BENCH_WORDS=str(words)), work),
        "/chatkit",
    )
    peer.server.wait_ready()
    floor.server.wait_ready()
    async with client_for(peer, 2) as client:
        response = await client.post(
            "/bench/prefill", json={"threads": n_long_threads, "items": 2000}, timeout=120
        )
        peer_long = response.json()
        response = await client.post(
            "/bench/prefill", json={"threads": long_turns, "items": 10}, timeout=120
        )
        peer_short = response.json()

    databases: list[tuple[str, Any]] = []
    if "sqlite" in cfg.dbs:
        databases.append(("sqlite", contextlib.nullcontext(f"sqlite:///{work / 'bench.sqlite3'}")))
    if "postgres" in cfg.dbs:
        databases.append(("postgres", postgres_database(cfg.pg_url)))

    for db, database in databases:
        try:
            with database as database_url:
                await run_database(
                    cfg, results, db, database_url, plan, peer, floor, peer_short, peer_long, work
                )
        except Exception as error:
            message = f"{db}: {type(error).__name__}: {error}"
            log(f"FAILED {message}")
            results["problems"].append(message[:2000])

    peer.server.stop()
    floor.server.stop()
    if cfg.memory_peer:
        log(f"memory: {cfg.streams} slow streams on the peer app")
        server = ServerProc(
            "peer-memory", "benchmarks.peer_app:app", base_env(BENCH_WORDS=str(words)), work
        )
        try:
            server.wait_ready()
            results["memory"]["peer"] = await slow_streams(
                Target("peer", server, "/chatkit"),
                streams=cfg.streams,
                words=cfg.slow_words,
                delay=0.1,
                warm_words=words,
            )
            log_memory("peer", results["memory"]["peer"])
        except Exception as error:
            results["problems"].append(f"memory peer: {type(error).__name__}: {error}"[:2000])
        finally:
            server.stop()
    results["meta"]["load_average_end"] = load_now()
    results["meta"]["code_end"] = tree_state()
    # Of the working tree (a snapshot cannot change; the tree may have moved on meanwhile).
    results["meta"]["source_digest_end"] = source_digest(REPO)
    results["meta"]["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


def log_memory(name: str, m: dict[str, Any]) -> None:
    log(
        f"  {name}: {m['completed']}/{m['streams']} streams, max open {m['max_open_at_once']},"
        f" RSS idle {m['rss_idle_mb']} MB, peak {m['rss_peak_mb']} MB,"
        f" {m['rss_per_stream_mb']} MB/stream, threads peak {m['threads_peak']},"
        f" errors {m['errors']} {m['error_kinds']}"
    )


async def run_database(
    cfg: argparse.Namespace,
    results: dict[str, Any],
    db: str,
    database_url: str,
    plan: dict[str, Any],
    peer: Target,
    floor: Target,
    peer_short: dict[str, Any],
    peer_long: dict[str, Any],
    work: Path,
) -> None:
    words = cfg.words
    log(f"{db}: migrating and prefilling ({plan['threads']} threads by size)")
    site = prepare_site(database_url, plan, words)
    log(f"{db}: prepared in {site['seconds']}")
    threads = site["threads"]
    short = threads["10"]
    long = threads["2000"]
    big = threads[str(cfg.big_items)][0]
    ours = Target(
        "ours",
        ServerProc(
            f"ours-{db}", "example_project.asgi:application", site_env(database_url, words), work
        ),
        "/chatkit/api",
        site["tokens"],
    )
    try:
        ours.server.wait_ready()
        results["meta"].setdefault("load_average", {})[db] = load_now()
        log(f"{db}: throughput, alternating ours / peer / floor")
        results["throughput"][db] = await throughput([ours, peer, floor], cfg, words)

        log(f"{db}: queries per turn")
        results["queries"][db] = await measure_queries(
            ours, short[cfg.long_turns :], long[-1], words, cfg.query_turns
        )
        q = results["queries"][db]
        log(
            f"  create {q['create']['queries_per_turn']}, add on 10 items"
            f" {q['add_10_items']['queries_per_turn']}, add on 2,000 items"
            f" {q['add_2000_items']['queries_per_turn']} queries per turn"
        )

        log(f"{db}: turns on 10-item vs 2,000-item threads")
        results["long_thread"][db] = await long_thread(
            {
                "ours": (ours, short[: cfg.long_turns], long[:-1]),
                "peer": (peer, peer_short["threads"], peer_long["threads"]),
            },
            words,
            cfg.long_turns,
        )
        for name, entry in results["long_thread"][db].items():
            log(
                f"  {name}: 10 items {entry['10']['turn_p50_ms']} ms, 2,000 items"
                f" {entry['2000']['turn_p50_ms']} ms, ratio {entry.get('ratio_2000_vs_10')}"
            )

        log(f"{db}: items.list deep inside {cfg.big_items:,} items")
        middle = site["middle"]
        results["items_list"][db] = await items_list(
            ours,
            {
                f"deep_{cfg.big_items}_asc": (big, middle[big], "asc"),
                f"deep_{cfg.big_items}_desc": (big, middle[big], "desc"),
                "deep_2000_asc": (long[0], middle[long[0]], "asc"),
                "first_page_2000": (long[0], None, "asc"),
            },
            cfg.list_requests,
        )
        if db == "sqlite" or "peer" not in results["items_list"]:
            results["items_list"]["peer"] = await items_list(
                peer,
                {"deep_2000_asc": (peer_long["threads"][0], peer_long["middle"][0], "asc")},
                cfg.list_requests,
            )
        for label, entry in results["items_list"][db].items():
            log(
                f"  {label}: wall p50 {entry['wall_p50_ms']} ms,"
                f" server p50 {entry['server_p50_ms']} ms, errors {entry['errors']}"
            )
    finally:
        ours.server.stop()

    if db in cfg.memory_dbs:
        log(f"{db}: memory, {cfg.streams} slow streams (one delta per 100 ms) on a fresh worker")
        server = ServerProc(
            f"ours-{db}-memory",
            "example_project.asgi:application",
            site_env(database_url, words),
            work,
        )
        try:
            server.wait_ready()
            results["memory"][db] = await slow_streams(
                Target("ours", server, "/chatkit/api", site["tokens"]),
                streams=cfg.streams,
                words=cfg.slow_words,
                delay=0.1,
                warm_words=words,
            )
            log_memory(f"ours ({db})", results["memory"][db])
            results["memory"][db]["server_log_tail"] = server.log_tail(15)
        finally:
            server.stop()


# -- the report ----------------------------------------------------------------------------


def fmt(value: Any, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return text + suffix


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target, its figure and whether it is met."""
    rows: list[dict[str, Any]] = []
    tput = results.get("throughput", {})

    def add(key: str, figure: str, ok: bool | None) -> None:
        label, goal = TARGETS[key]
        rows.append({"target": label, "goal": goal, "figure": figure, "met": ok})

    for db, key in (("sqlite", "tput_10_sqlite"), ("postgres", "tput_10_postgres")):
        ratio = tput.get(db, {}).get("10", {}).get("ratio_vs_peer")
        goal = 1.5 if db == "sqlite" else 1.3
        add(key, f"{fmt(ratio)}x", None if ratio is None else ratio >= goal)
    ones = {db: tput.get(db, {}).get("1", {}).get("ratio_vs_peer") for db in tput}
    known = [r for r in ones.values() if r is not None]
    add(
        "tput_1",
        ", ".join(f"{db} {fmt(r)}x" for db, r in ones.items()) or "n/a",
        None if not known else min(known) >= 1.0,
    )
    ttfe = {}
    for db in tput:
        one = tput[db].get("1", {})
        if one.get("ours") and one.get("peer"):
            ttfe[db] = (one["ours"]["ttfe_p50_ms"], one["peer"]["ttfe_p50_ms"])
    add(
        "ttfe_1",
        ", ".join(f"{db} {fmt(a)} vs {fmt(b)} ms" for db, (a, b) in ttfe.items()) or "n/a",
        None
        if not ttfe
        else all(a is not None and b is not None and a <= b for a, b in ttfe.values()),
    )
    queries = results.get("queries", {})
    figures, oks = [], []
    for db, q in queries.items():
        a, b = q["add_10_items"]["queries_per_turn"], q["add_2000_items"]["queries_per_turn"]
        figures.append(f"{db} {fmt(a)} / {fmt(b)}")
        oks.append(a <= 8 and b <= 8 and a == b)
    add("queries", ", ".join(figures) or "n/a", None if not oks else all(oks))
    figures, oks = [], []
    for db, entry in results.get("long_thread", {}).items():
        ratio = entry.get("ours", {}).get("ratio_2000_vs_10")
        figures.append(f"{db} {fmt(ratio)}x")
        oks.append(ratio is not None and ratio <= 1.2)
    add("long_thread", ", ".join(figures) or "n/a", None if not oks else all(oks))
    figures, oks = [], []
    for db, entry in results.get("items_list", {}).items():
        if db == "peer":
            continue
        deep = entry.get(f"deep_{results['meta']['big_thread_items']}_asc")
        if deep:
            figures.append(
                f"{db} {fmt(deep['wall_p50_ms'])} ms wall, {fmt(deep['server_p50_ms'])} ms server"
            )
            oks.append(deep["wall_p50_ms"] is not None and deep["wall_p50_ms"] < 5)
    big = results["meta"]["big_thread_items"]
    if big != 100_000:
        figures.append(f"(thread of {big:,} items, not 100,000)")
        oks = []
    add("items_list", ", ".join(figures) or "n/a", None if not oks else all(oks))
    figures, oks = [], []
    for db, m in results.get("memory", {}).items():
        if db == "peer":
            continue
        figures.append(
            f"{db}: {m['errors']} errors of {m['streams']} streams, "
            f"{fmt(m['rss_per_stream_mb'])} MB/stream"
        )
        oks.append(m["errors"] == 0 and m["rss_per_stream_mb"] < 0.5)
    if any(m["streams"] < 500 for db, m in results.get("memory", {}).items() if db != "peer"):
        figures.append("(fewer than 500 streams)")
        oks = []
    add("memory", "; ".join(figures) or "n/a", None if not oks else all(oks))
    return rows


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m = meta["machine"]
    v = meta["versions"]
    lines = [
        f"Run {meta['started']} ({meta['mode']}): `{meta['command']}`  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux {m['kernel']}; "
        f"Python {v['python']}, Django {v['django']}, openai-chatkit {v['openai-chatkit']}, "
        f"openai-agents {v['openai-agents']}, uvicorn {v['uvicorn']} (uvloop {v['uvloop']}, "
        f"httptools {v['httptools']}).  ",
        f"Code: {meta['code_start']} (source digest {meta['source_digest_start']})"
        + (
            "; the servers ran a snapshot taken at the start (the working tree moved on to "
            f"{meta['code_end']}, {meta['source_digest_end']}, meanwhile).  "
            if meta.get("source_digest_end") != meta["source_digest_start"]
            and meta.get("code_source") == "snapshot"
            else (
                f"; **the code changed during the run**, at the end: {meta['code_end']} "
                f"({meta['source_digest_end']})  "
                if meta.get("source_digest_end") != meta["source_digest_start"]
                else "; unchanged during the run.  "
            )
        ),
        f"Answers of {meta['words_per_answer']} words (= text deltas); throughput: "
        f"{meta['rounds']} round(s) x {meta['duration_s']} s per target and concurrency, "
        f"alternating; load average at start {meta['load_average_start']}.",
        "",
        "### Targets",
        "",
        "| Target | Goal | Measured | |",
        "| --- | --- | --- | --- |",
    ]
    for row in evaluate(results):
        lines.append(
            f"| {row['target']} | {row['goal']} | {row['figure']} | {verdict(row['met'])} |"
        )

    lines += [
        "",
        "### Throughput and time to first event (closed loop, full turns)",
        "",
        "| DB | Clients | Server | Turns/s | vs peer | TTFE p50 | TTFE p95 | Server CPU/turn "
        "| Other CPU | Errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for db, by_conc in results.get("throughput", {}).items():
        for conc, summary in by_conc.items():
            for name in ("ours", "peer", "floor"):
                s = summary.get(name)
                if not s:
                    continue
                ratio = f"{s['vs_peer']:.2f}x" if s.get("vs_peer") is not None else "n/a"
                lines.append(
                    f"| {db} | {conc} | {name} | {fmt(s['turns_per_s'])} | {ratio} | "
                    f"{fmt(s['ttfe_p50_ms'], ' ms')} | {fmt(s['ttfe_p95_ms'], ' ms')} | "
                    f"{fmt(s['server_cpu_ms_per_turn'], ' ms')} | {fmt(s['other_cpu_util'])} | "
                    f"{s['errors']} |"
                )
    lines += [
        "",
        "### Database statements per turn (ours, counted server-side)",
        "",
        "| DB | Turn | Queries | + transaction statements | Database connects |",
        "| --- | --- | --- | --- | --- |",
    ]
    for db, q in results.get("queries", {}).items():
        for label in ("create", "add_10_items", "add_2000_items"):
            e = q[label]
            lines.append(
                f"| {db} | {label.replace('_', ' ')} | {fmt(e['queries_per_turn'])} | "
                f"{fmt(e['transaction_statements_per_turn'])} | {fmt(e['connections_per_turn'])} |"
            )
    lines += [
        "",
        "### A turn on a 2,000-item thread vs a 10-item thread (1 client, sequential)",
        "",
        "| DB | Server | 10 items p50 | 2,000 items p50 | Ratio | CPU/turn 10 | CPU/turn 2,000 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for db, by_server in results.get("long_thread", {}).items():
        for name, e in by_server.items():
            lines.append(
                f"| {db} | {name} | {fmt(e['10']['turn_p50_ms'], ' ms')} | "
                f"{fmt(e['2000']['turn_p50_ms'], ' ms')} | {fmt(e.get('ratio_2000_vs_10'))}x | "
                f"{fmt(e['10']['server_cpu_ms_per_turn'], ' ms')} | "
                f"{fmt(e['2000']['server_cpu_ms_per_turn'], ' ms')} |"
            )
    lines += [
        "",
        "### items.list (20 items, sequential on one connection)",
        "",
        "| DB | Server | Page | Wall p50 | Wall p95 | Server p50 (Server-Timing) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for db, cases in results.get("items_list", {}).items():
        for label, e in cases.items():
            server = "peer" if db == "peer" else "ours"
            lines.append(
                f"| {'-' if db == 'peer' else db} | {server} | {label.replace('_', ' ')} | "
                f"{fmt(e['wall_p50_ms'], ' ms')} | {fmt(e['wall_p95_ms'], ' ms')} | "
                f"{fmt(e['server_p50_ms'], ' ms')} |"
            )
    lines += [
        "",
        "### Slow streams on one worker (one delta per 100 ms)",
        "",
        "| Server | Streams | Completed | Errors | Max open at once | RSS idle | RSS peak "
        "| Per stream | Threads peak | Stream p50 (ideal) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for db, e in results.get("memory", {}).items():
        name = "peer (memory)" if db == "peer" else f"ours ({db})"
        lines.append(
            f"| {name} | {e['streams']} | {e['completed']} | {e['errors']} | "
            f"{e['max_open_at_once']} | {fmt(e['rss_idle_mb'], ' MB')} | "
            f"{fmt(e['rss_peak_mb'], ' MB')} | {fmt(e['rss_per_stream_mb'], ' MB')} | "
            f"{fmt(e['threads_peak'])} | {fmt(e['stream_p50_s'], ' s')} "
            f"({fmt(e['ideal_stream_s'], ' s')}) |"
        )
    errors = []
    for section in ("throughput",):
        for db, by_conc in results.get(section, {}).items():
            for conc, summary in by_conc.items():
                for name, s in summary.items():
                    if isinstance(s, dict) and s.get("error_kinds"):
                        errors.append(
                            f"- throughput {db} {conc} clients {name}: {s['error_kinds']}"
                        )
    for db, e in results.get("memory", {}).items():
        if e.get("error_kinds"):
            errors.append(f"- memory {db}: {e['error_kinds']}")
    for problem in results.get("problems", []):
        errors.append(f"- {problem.splitlines()[0][:300]}")
    lines += ["", "### Errors seen", ""] + (errors or ["None."])
    return "\n".join(lines) + "\n"


README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def write_readme(table: str) -> None:
    readme = HERE / "README.md"
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise RuntimeError("README.md has no results markers")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{table}{README_END}{tail}")


def strip_private(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_private(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [strip_private(v) for v in value]
    return value


# -- entry point ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller and shorter (~2 minutes)")
    parser.add_argument(
        "--profile", action="store_true", help="profile turns in-process (see profile_turns.py)"
    )
    parser.add_argument("--dbs", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
        help="PostgreSQL server to create the benchmark database on",
    )
    parser.add_argument("--words", type=int, default=40, help="words (text deltas) per answer")
    parser.add_argument("--duration", type=float, help="seconds per throughput measurement")
    parser.add_argument("--rounds", type=int, help="alternating rounds per concurrency")
    parser.add_argument("--streams", type=int, help="concurrent slow streams in the memory test")
    parser.add_argument("--big-items", type=int, help="items in the big thread for items.list")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument(
        "--render",
        action="store_true",
        help="only render the tables again from --output's JSON (with --write-readme: README)",
    )
    parser.add_argument(
        "--live-code",
        action="store_true",
        help="run the servers on the working tree itself, not on a snapshot taken at the start",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="confine each server to the last CPU and this client to the others (exploration; "
        "the published figures are unpinned)",
    )
    parser.add_argument(
        "--write-readme", action="store_true", help="put the table into benchmarks/README.md"
    )
    # --profile options (passed through)
    parser.add_argument("--turns", type=int, default=200, help="--profile: turns to profile")
    parser.add_argument("--db", default="sqlite", help="--profile: sqlite or postgres")
    parser.add_argument("--sort", default="cumulative", help="--profile: pstats sort key")
    parser.add_argument("--top", type=int, default=30, help="--profile: rows to print")
    cfg = parser.parse_args(argv)
    quick = cfg.quick
    cfg.dbs = [d.strip() for d in cfg.dbs.split(",") if d.strip()]
    cfg.duration = cfg.duration or (2.0 if quick else 3.0)
    cfg.rounds = cfg.rounds or (1 if quick else 5)
    cfg.streams = cfg.streams or (100 if quick else 500)
    cfg.big_items = cfg.big_items or (20_000 if quick else 100_000)
    cfg.slow_words = 60 if quick else 200
    cfg.warmup = 10
    cfg.max_turns = 20_000
    cfg.long_turns = 12 if quick else 40
    cfg.query_turns = 5
    cfg.list_requests = 50 if quick else 200
    cfg.memory_dbs = ["sqlite"] if quick else cfg.dbs
    cfg.memory_peer = not quick
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if cfg.profile:
        from benchmarks.profile_turns import profile

        return profile(
            turns=cfg.turns,
            db=cfg.db,
            pg_url=cfg.pg_url,
            sort=cfg.sort,
            top=cfg.top,
            words=cfg.words,
        )

    if cfg.render:
        results = json.loads(cfg.output.read_text())
        table = markdown(results)
        cfg.output.with_suffix(".md").write_text(table)
        if cfg.write_readme:
            write_readme(table)
        print(table)
        return 0

    raise_open_files_limit()
    if cfg.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > 1:
            ServerProc.cpu = cpus[-1]
            os.sched_setaffinity(0, set(cpus[:-1]))
    work = Path(tempfile.mkdtemp(prefix="chatkit-bench-"))
    atexit.register(ServerProc.stop_all)
    if not cfg.live_code:
        global SRC
        SRC = snapshot_code(work)

    # Ctrl-C cancels the run (asyncio's runner cancels the main task, so every ``finally``
    # runs: servers stopped, PostgreSQL database dropped); SIGTERM does the same.
    signal.signal(signal.SIGTERM, lambda signum, frame: os.kill(os.getpid(), signal.SIGINT))
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    started = time.perf_counter()
    try:
        results = runner(run_benchmark(cfg, work))
    except KeyboardInterrupt:
        ServerProc.stop_all()
        shutil.rmtree(work, ignore_errors=True)
        log("interrupted: servers stopped, nothing written")
        return 130
    finally:
        ServerProc.stop_all()
    results["meta"]["wall_seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = evaluate(results)
    RESULTS.mkdir(exist_ok=True)
    cfg.output.parent.mkdir(parents=True, exist_ok=True)
    cfg.output.write_text(json.dumps(strip_private(results), indent=2) + "\n")
    table = markdown(results)
    cfg.output.with_suffix(".md").write_text(table)
    if cfg.write_readme:
        write_readme(table)
    if results["problems"]:
        # Keep the servers' logs of a run that had problems.
        logs = cfg.output.parent / "logs"
        logs.mkdir(exist_ok=True)
        for path in work.glob("*.log"):
            shutil.copy2(path, logs / path.name)
        log(f"server logs kept in {logs}")
    shutil.rmtree(work, ignore_errors=True)
    print()
    print(table)
    log(
        f"done in {results['meta']['wall_seconds']} s: {cfg.output}"
        f" and {cfg.output.with_suffix('.md')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
