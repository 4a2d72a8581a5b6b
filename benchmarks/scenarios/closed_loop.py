"""Closed-loop load: clients that each send their next turn as soon as the last one ended."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from benchmarks.harness.client import (
    Target,
    TurnResult,
    add_body,
    client_for,
    create_body,
    summarize_errors,
    turn,
)
from benchmarks.harness.figures import count_errors, ms, pct
from benchmarks.harness.system import CpuMeter, CpuUse


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
        warm_errors = summarize_errors(await asyncio.wait_for(asyncio.gather(*warm), timeout=120))

        results: list[TurnResult] = []
        meter = CpuMeter(target.server.pid)
        start = time.perf_counter()
        deadline = start + duration

        async def client_loop(index: int) -> None:
            thread_id: str | None = None
            step = 0
            while time.perf_counter() < deadline and len(results) < max_turns:
                same_thread = thread_id is not None and step % cycle != 0
                body = add_body(thread_id) if same_thread and thread_id else create_body()
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
        cpu = meter.read()
    return summary(results, elapsed, cpu, warm_errors)


def per_second(value: float, elapsed: float) -> float | None:
    return round(value / elapsed, 2) if elapsed > 0 else None


def summary(
    results: list[TurnResult], elapsed: float, cpu: CpuUse, warm_errors: dict[str, int]
) -> dict[str, Any]:
    """One measurement's figures (``_ttfe`` keeps the samples for pooling)."""
    ok = [r for r in results if r.ok]
    ttfe = [r.ttfe for r in ok if r.ttfe is not None]
    totals = [r.total for r in ok]
    return {
        "turns": len(ok),
        "errors": len(results) - len(ok),
        "error_kinds": summarize_errors(results),
        "warmup_errors": warm_errors,
        "seconds": round(elapsed, 3),
        "turns_per_s": per_second(len(ok), elapsed) or 0.0,
        "ttfe_p50_ms": ms(pct(ttfe, 50)),
        "ttfe_p95_ms": ms(pct(ttfe, 95)),
        "turn_p50_ms": ms(pct(totals, 50)),
        "turn_p95_ms": ms(pct(totals, 95)),
        "server_cpu_ms_per_turn": round(cpu.server * 1000 / len(ok), 2) if ok else None,
        "server_cpu_util": per_second(cpu.server, elapsed),
        "client_cpu_util": per_second(cpu.client, elapsed),
        "other_cpu_util": per_second(max(0.0, cpu.other), elapsed),
        "_ttfe": ttfe,
    }


def pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds of one target and concurrency, pooled."""
    turns = sum(r["turns"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    ttfe = [t for r in runs for t in r["_ttfe"]]
    cpu = [r["server_cpu_ms_per_turn"] for r in runs if r["server_cpu_ms_per_turn"] is not None]
    p50s = [r["turn_p50_ms"] for r in runs if r["turn_p50_ms"]]
    errors: dict[str, int] = {}
    for run in runs:
        for key, count in {**run["error_kinds"], **run["warmup_errors"]}.items():
            count_errors(errors, key, count)
    return {
        "turns": turns,
        "errors": sum(r["errors"] for r in runs),
        "error_kinds": errors,
        "turns_per_s": round(turns / seconds, 2) if seconds else 0.0,
        "turns_per_s_rounds": [r["turns_per_s"] for r in runs],
        "ttfe_p50_ms": ms(pct(ttfe, 50)),
        "ttfe_p95_ms": ms(pct(ttfe, 95)),
        "turn_p50_ms": statistics.median(p50s) if p50s else None,
        "server_cpu_ms_per_turn": round(statistics.median(cpu), 2) if cpu else None,
        "server_cpu_util": statistics.median(r["server_cpu_util"] or 0 for r in runs),
        "client_cpu_util": statistics.median(r["client_cpu_util"] or 0 for r in runs),
        "other_cpu_util": statistics.median(r["other_cpu_util"] or 0 for r in runs),
    }
