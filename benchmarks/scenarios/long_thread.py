"""A turn on a 2,000-item thread against one on a 10-item thread, ours and the peer's."""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Mapping
from typing import Any

from benchmarks.harness import client as load
from benchmarks.harness.config import RunConfig
from benchmarks.harness.console import log
from benchmarks.harness.figures import fmt, markdown_table, ms, pct
from benchmarks.harness.goals import Bound, Goal, Measured, Reading
from benchmarks.harness.scenario import Context, Prefill, Scenario
from benchmarks.harness.system import cpu_seconds

SIZES = (10, 2000)
TURNS_PER_LONG_THREAD = 5  # a 2,000-item thread takes at most this many turns


async def long_thread(
    pairs: Mapping[str, tuple[load.Target, Mapping[int, list[str]]]], words: int, turns: int
) -> dict[str, Any]:
    """Sequential add_user_message turns on 10-item and 2,000-item threads, interleaved
    (ours-10, ours-2000, peer-10, peer-2000, ...) so drift hits all alike. A 10-item thread
    takes one turn; a 2,000-item thread takes at most a handful."""
    samples: dict[tuple[str, int], list[load.TurnResult]] = {}
    cpu: dict[tuple[str, int], float] = {}
    clients = {}
    async with contextlib.AsyncExitStack() as stack:
        for name, (target, _) in pairs.items():
            clients[name] = await stack.enter_async_context(load.client_for(target, 2))
            # warm-up
            for _ in range(3):
                await load.turn(clients[name], target, load.create_body(), words=words)
        for index in range(turns):
            for name, (target, threads) in pairs.items():
                for size in SIZES:
                    thread_id = threads[size][index % len(threads[size])]
                    before = cpu_seconds(target.server.pid)
                    result = await load.turn(
                        clients[name], target, load.add_body(thread_id), words=words
                    )
                    cpu[(name, size)] = cpu.get((name, size), 0.0) + (
                        cpu_seconds(target.server.pid) - before
                    )
                    samples.setdefault((name, size), []).append(result)
    return {name: server_entry(samples, cpu, name) for name in pairs}


def server_entry(
    samples: dict[tuple[str, int], list[load.TurnResult]],
    cpu: dict[tuple[str, int], float],
    name: str,
) -> dict[str, Any]:
    """One server's figures on both sizes, and their ratio."""
    entry: dict[str, Any] = {}
    for size in SIZES:
        results = samples[(name, size)]
        ok = [r for r in results if r.ok]
        entry[str(size)] = {
            "turns": len(ok),
            "errors": len(results) - len(ok),
            "error_kinds": load.summarize_errors(results),
            "turn_p50_ms": ms(pct([r.total for r in ok], 50)),
            "turn_mean_ms": ms(statistics.fmean(r.total for r in ok)) if ok else None,
            "ttfe_p50_ms": ms(pct([r.ttfe for r in ok if r.ttfe], 50)),
            "server_cpu_ms_per_turn": round(cpu[(name, size)] * 1000 / len(ok), 2) if ok else None,
        }
    if entry["10"]["turn_p50_ms"] and entry["2000"]["turn_p50_ms"]:
        entry["ratio_2000_vs_10"] = round(
            entry["2000"]["turn_p50_ms"] / entry["10"]["turn_p50_ms"], 3
        )
    return entry


def ours_ratio(results: Mapping[str, Any]) -> Measured:
    readings = []
    for db, entry in results.get("long_thread", {}).items():
        value = entry.get("ours", {}).get("ratio_2000_vs_10")
        readings.append(Reading(f"{db} {fmt(value)}x", {"value": value}))
    return Measured(readings)


class LongThread(Scenario):
    key = "long_thread"
    goals = (Goal("turn on 2,000 items vs 10 items", (Bound("<=", 1.2, "x"),), ours_ratio),)

    def prefill(self, config: RunConfig) -> Prefill:
        threads = {
            10: config.long_turns,
            2000: math.ceil(config.long_turns / TURNS_PER_LONG_THREAD),
        }
        return Prefill(ours=threads, peer=threads)

    async def run(self, context: Context, section: dict[str, Any]) -> None:
        log(f"{context.db}: turns on 10-item vs 2,000-item threads")
        pairs = {
            "ours": (context.site.ours, context.threads.ours),
            "peer": (context.bench.peer, context.threads.peer),
        }
        section[context.db] = await long_thread(
            pairs, context.config.words, context.config.long_turns
        )
        for name, entry in section[context.db].items():
            log(
                f"  {name}: 10 items {entry['10']['turn_p50_ms']} ms, 2,000 items"
                f" {entry['2000']['turn_p50_ms']} ms, ratio {entry.get('ratio_2000_vs_10')}"
            )

    def tables(self, section: dict[str, Any]) -> list[str]:
        rows = [
            row(db, name, e) for db, by_server in section.items() for name, e in by_server.items()
        ]
        columns = ["DB", "Server", "10 items p50", "2,000 items p50", "Ratio"]
        columns += ["CPU/turn 10", "CPU/turn 2,000"]
        title = "A turn on a 2,000-item thread vs a 10-item thread (1 client, sequential)"
        return markdown_table(title, columns, rows)


def row(db: str, name: str, e: dict[str, Any]) -> list[str]:
    short, long = e["10"], e["2000"]
    p50s = [fmt(short["turn_p50_ms"], " ms"), fmt(long["turn_p50_ms"], " ms")]
    cpu = [fmt(short["server_cpu_ms_per_turn"], " ms"), fmt(long["server_cpu_ms_per_turn"], " ms")]
    return [db, name, *p50s, f"{fmt(e.get('ratio_2000_vs_10'))}x", *cpu]
