"""One run: the peer and the floor, then our site on each database, every scenario in order."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .client import Target, client_for
from .config import REPO, RunConfig
from .console import log
from .scenario import Bench, Context, Scenario, Site, Threads
from .servers import Servers, postgres_database
from .source import source_digest, tree_state
from .system import load_now, machine, raise_open_files_limit, versions

USERS = 10  # of our site, one per client (their tokens are used in turn)
ThreadsBySize = dict[int, list[str]]


@dataclass(frozen=True)
class PreparedSite:
    """Our site's database as ``benchmarks.site_tool`` left it."""

    tokens: list[str]  # a bearer token per user
    threads: ThreadsBySize  # {items per thread: thread ids}
    middle: dict[str, str]  # thread id: its middle item's id


def start_meta(config: RunConfig, servers: Servers) -> dict[str, Any]:
    return {
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "mode": "quick" if config.quick else "full",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "open_files_limit": raise_open_files_limit(),
        "words_per_answer": config.words,
        "duration_s": config.duration,
        "rounds": config.rounds,
        "big_thread_items": config.big_items,
        "load_average_start": load_now(),
        "server_pinned_to_cpu": servers.cpu,
        "code_start": tree_state(),
        "code_source": "snapshot" if servers.src != REPO else "live working tree",
        "source_digest_start": source_digest(servers.src),
    }


def end_meta(meta: dict[str, Any]) -> None:
    meta["load_average_end"] = load_now()
    meta["code_end"] = tree_state()
    # Of the working tree (a snapshot cannot change; the tree may have moved on meanwhile).
    meta["source_digest_end"] = source_digest(REPO)
    meta["finished"] = datetime.now(UTC).isoformat(timespec="seconds")


def total(needs: Sequence[Mapping[int, int]]) -> dict[int, int]:
    """All the scenarios' needs together: {items per thread: threads}."""
    out: dict[int, int] = {}
    for need in needs:
        for size, count in need.items():
            out[size] = out.get(size, 0) + count
    return out


def allocate(needs: Sequence[Mapping[int, int]], made: ThreadsBySize) -> list[ThreadsBySize]:
    """The prefilled threads handed out in turn, each scenario its own."""
    taken = dict.fromkeys(made, 0)
    out: list[ThreadsBySize] = []
    for need in needs:
        mine: ThreadsBySize = {}
        for size, count in need.items():
            mine[size] = made[size][taken[size] : taken[size] + count]
            taken[size] += count
        out.append(mine)
    return out


async def prefill_peer(
    peer: Target, sizes: Mapping[int, int]
) -> tuple[ThreadsBySize, dict[str, str]]:
    """The peer's threads, through its benchmark-only /bench/prefill endpoint."""
    threads: ThreadsBySize = {}
    middle: dict[str, str] = {}
    async with client_for(peer, 2) as client:
        for size, count in sizes.items():
            spec = {"threads": count, "items": size}
            made = (await client.post("/bench/prefill", json=spec, timeout=120)).json()
            threads[size] = made["threads"]
            middle.update(zip(made["threads"], made["middle"], strict=True))
    return threads, middle


def failed(problems: list[str], where: str, error: Exception) -> None:
    """A step that failed: said now, and listed in the report."""
    message = f"{where}: {type(error).__name__}: {error}"
    log(f"FAILED {message}")
    problems.append(message[:2000])


def databases(config: RunConfig, work_db: str) -> Iterator[tuple[str, Any]]:
    """(name, a context manager giving its URL) for each database asked for."""
    if "sqlite" in config.dbs:
        yield "sqlite", contextlib.nullcontext(f"sqlite:///{work_db}")
    if "postgres" in config.dbs:
        yield "postgres", postgres_database(config.pg_url)


async def run_benchmark(
    config: RunConfig, servers: Servers, scenarios: Sequence[Scenario], work: Path
) -> dict[str, Any]:
    """Every scenario on every database; the results, as the JSON has them (but "targets")."""
    results: dict[str, Any] = {
        "meta": start_meta(config, servers),
        **{scenario.key: {} for scenario in scenarios},
        "problems": [],
    }
    needs = [scenario.prefill(config) for scenario in scenarios]
    log("starting the peer app and the floor")
    peer, floor = Bench.start_baselines(config, servers)
    bench = Bench(config, servers, peer, floor, results["problems"])
    peer.server.wait_ready()
    floor.server.wait_ready()
    peer_made, peer_middle = await prefill_peer(peer, total([need.peer for need in needs]))
    peer_threads = allocate([need.peer for need in needs], peer_made)

    for db, database in databases(config, str(work / "bench.sqlite3")):
        try:
            with database as database_url:
                site = prepare_site(bench, db, database_url, [need.ours for need in needs])
                ours_threads = allocate([need.ours for need in needs], site.threads)
                middle = {**site.middle, **peer_middle}
                threads = [
                    Threads(ours, theirs, middle)
                    for ours, theirs in zip(ours_threads, peer_threads, strict=True)
                ]
                await run_database(bench, scenarios, threads, results, db, database_url, site)
        except Exception as error:
            failed(results["problems"], db, error)

    peer.server.stop()
    floor.server.stop()
    for scenario in scenarios:
        try:
            await scenario.after_databases(bench, results[scenario.key])
        except Exception as error:
            failed(results["problems"], scenario.key, error)
    end_meta(results["meta"])
    return results


def prepare_site(
    bench: Bench, db: str, database_url: str, needs: Sequence[Mapping[int, int]]
) -> PreparedSite:
    """Migrate our site's database, create its users and prefill every scenario's threads."""
    sizes = total(needs)
    plan = {"users": USERS, "threads": {str(size): count for size, count in sizes.items()}}
    log(f"{db}: migrating and prefilling ({plan['threads']} threads by size)")
    site = bench.servers.prepare_site(database_url, plan, bench.config.words)
    log(f"{db}: prepared in {site['seconds']}")
    threads = {int(size): ids for size, ids in site["threads"].items()}
    return PreparedSite(site["tokens"], threads, site["middle"])


async def run_database(
    bench: Bench,
    scenarios: Sequence[Scenario],
    threads: list[Threads],
    results: dict[str, Any],
    db: str,
    database_url: str,
    site: PreparedSite,
) -> None:
    """The scenarios on one database: those that share our site's server, then those that run
    alone."""
    ours = Site.start_server(bench, f"ours-{db}", database_url, site.tokens)
    here = Site(bench, db, database_url, site.tokens, ours)
    try:
        ours.server.wait_ready()
        results["meta"].setdefault("load_average", {})[db] = load_now()
        for scenario, mine in zip(scenarios, threads, strict=True):
            if not scenario.alone:
                await scenario.run(Context(bench, here, mine), results[scenario.key])
    finally:
        ours.server.stop()
    for scenario, mine in zip(scenarios, threads, strict=True):
        if scenario.alone:
            await scenario.run(Context(bench, here, mine), results[scenario.key])
