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
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, this folder is on sys.path, not the repository: the package needs it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness.config import DEFAULT_PG, REPO, RESULTS, RunConfig
from benchmarks.harness.console import log
from benchmarks.harness.report import evaluate, markdown, strip_private, write_readme
from benchmarks.harness.servers import Servers
from benchmarks.harness.session import run_benchmark
from benchmarks.harness.source import snapshot_code
from benchmarks.harness.system import raise_open_files_limit
from benchmarks.scenarios import SCENARIOS


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
    return parser.parse_args(argv)


def publish(results: dict[str, Any], args: argparse.Namespace) -> str:
    """Write the tables next to the JSON (and into the README with --write-readme)."""
    table = markdown(results, SCENARIOS)
    args.output.with_suffix(".md").write_text(table)
    if args.write_readme:
        write_readme(table)
    return table


def pin_cpus() -> int | None:
    """--pin: the last CPU for the servers, the others for this client."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) <= 1:
        return None
    os.sched_setaffinity(0, set(cpus[:-1]))
    return cpus[-1]


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    """The run, with every server stopped at the end; None if it was interrupted."""
    raise_open_files_limit()
    cpu = pin_cpus() if args.pin else None
    src = REPO if args.live_code else snapshot_code(work)
    servers = Servers(src, work, cpu)
    atexit.register(servers.stop_all)
    # Ctrl-C cancels the run (asyncio's runner cancels the main task, so every ``finally``
    # runs: servers stopped, PostgreSQL database dropped); SIGTERM does the same.
    signal.signal(signal.SIGTERM, lambda signum, frame: os.kill(os.getpid(), signal.SIGINT))
    runner: Callable[..., Any] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    started = time.perf_counter()
    try:
        results = runner(run_benchmark(RunConfig.from_args(args), servers, SCENARIOS, work))
    except KeyboardInterrupt:
        return None
    finally:
        servers.stop_all()
    results["meta"]["wall_seconds"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        from benchmarks.profile_turns import profile

        return profile(
            turns=args.turns,
            db=args.db,
            pg_url=args.pg_url,
            sort=args.sort,
            top=args.top,
            words=args.words,
        )
    if args.render:
        print(publish(json.loads(args.output.read_text()), args))
        return 0

    work = Path(tempfile.mkdtemp(prefix="chatkit-bench-"))
    results = measure(args, work)
    if results is None:
        shutil.rmtree(work, ignore_errors=True)
        log("interrupted: servers stopped, nothing written")
        return 130
    results["targets"] = evaluate(results, SCENARIOS)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(strip_private(results), indent=2) + "\n")
    table = publish(results, args)
    if results["problems"]:
        # Keep the servers' logs of a run that had problems.
        logs = args.output.parent / "logs"
        logs.mkdir(exist_ok=True)
        for path in work.glob("*.log"):
            shutil.copy2(path, logs / path.name)
        log(f"server logs kept in {logs}")
    shutil.rmtree(work, ignore_errors=True)
    print()
    print(table)
    table_path = args.output.with_suffix(".md")
    log(f"done in {results['meta']['wall_seconds']} s: {args.output} and {table_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
