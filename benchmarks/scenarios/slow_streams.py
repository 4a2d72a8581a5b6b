"""Slow streams: many concurrent turns, each streaming one delta per ``delay`` seconds, and the
server's RSS and threads sampled meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from benchmarks.harness.client import (
    Target,
    TurnResult,
    client_for,
    create_body,
    summarize_errors,
    turn,
)
from benchmarks.harness.figures import ms, pct
from benchmarks.harness.system import proc_status

SAMPLE_EVERY = 0.25  # seconds
WARM_TURNS = 20


class OpenStreams:
    """How many streams are open (their first event came, their end not yet), and the most."""

    def __init__(self, streams: int) -> None:
        self.streams = streams
        self.open = 0
        self.most = 0
        self.finished = 0

    def opened(self) -> None:
        self.open += 1
        self.most = max(self.most, self.open)

    def ended(self, result: TurnResult) -> None:
        if result.ttfe is not None:
            self.open -= 1
        self.finished += 1


async def warm_up(target: Target, words: int) -> list[TurnResult]:
    async with client_for(target, 12) as client:
        return list(
            await asyncio.gather(
                *(
                    turn(client, target, create_body(), words=words, client_index=i)
                    for i in range(WARM_TURNS)
                )
            )
        )


async def sample(pid: int, gauge: OpenStreams, start: float, samples: list[dict]) -> None:
    """The server's RSS and threads, and the streams open, until every stream has ended."""
    while gauge.finished < gauge.streams:
        status = proc_status(pid)
        samples.append(
            {
                "t": round(time.perf_counter() - start, 2),
                "rss_kb": status["VmRSS"],
                "threads": status.get("Threads"),
                "open": gauge.open,
            }
        )
        await asyncio.sleep(SAMPLE_EVERY)


async def stream_all(
    target: Target,
    gauge: OpenStreams,
    words: int,
    delay: float,
    samples: list[dict[str, Any]],
    start: float,
) -> list[TurnResult]:
    """Every slow stream at once, sampled meanwhile."""
    ideal = words * delay
    headers = {"X-Bench-Words": str(words), "X-Bench-Delay": str(delay)}

    async def one(client: Any, index: int) -> TurnResult:
        result = await turn(
            client,
            target,
            create_body(),
            words=words,
            client_index=index,
            extra_headers=headers,
            on_first_event=gauge.opened,
        )
        gauge.ended(result)
        return result

    async with client_for(target, gauge.streams + 10, read_timeout=max(60.0, ideal)) as client:
        tasks = [asyncio.create_task(one(client, i)) for i in range(gauge.streams)]
        sampling = asyncio.create_task(sample(target.server.pid, gauge, start, samples))
        try:
            return list(await asyncio.wait_for(asyncio.gather(*tasks), timeout=ideal * 4 + 120))
        finally:
            for task in tasks:
                task.cancel()
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling


async def slow_streams(
    target: Target, *, streams: int, words: int, delay: float, warm_words: int
) -> dict[str, Any]:
    """``streams`` concurrent threads.create turns, one delta per ``delay`` seconds, on a
    freshly started server warmed up with fast turns. RSS before (idle) and during."""
    pid = target.server.pid
    warm = await warm_up(target, warm_words)
    await asyncio.sleep(1.0)
    idle = proc_status(pid)
    gauge = OpenStreams(streams)
    samples: list[dict[str, Any]] = []
    start = time.perf_counter()
    results = await stream_all(target, gauge, words, delay, samples, start)
    elapsed = time.perf_counter() - start
    await asyncio.sleep(1.0)
    after = proc_status(pid)
    figures: dict[str, Any] = {"streams": streams, "words": words, "delta_delay_s": delay}
    figures.update(summary(results, warm, gauge, samples, idle, after, words * delay))
    figures["elapsed_s"] = round(elapsed, 2)
    figures["samples"] = samples[:: max(1, len(samples) // 40)]
    return figures


def summary(
    results: list[TurnResult],
    warm: list[TurnResult],
    gauge: OpenStreams,
    samples: list[dict[str, Any]],
    idle: dict[str, int],
    after: dict[str, int],
    ideal: float,
) -> dict[str, Any]:
    """What the streams did, and the server's memory and threads meanwhile."""
    peak = max(samples, key=lambda s: s["rss_kb"]) if samples else {"rss_kb": idle["VmRSS"]}
    at_max_open = [s for s in samples if s["open"] == gauge.most] or samples
    rss_at_max_open = max(s["rss_kb"] for s in at_max_open) if at_max_open else idle["VmRSS"]
    ok = [r for r in results if r.ok]
    return {
        "ideal_stream_s": round(ideal, 2),
        "completed": len(ok),
        "errors": len(results) - len(ok),
        "error_kinds": summarize_errors(results),
        "warmup_errors": summarize_errors(warm),
        "max_open_at_once": gauge.most,
        "rss_idle_mb": round(idle["VmRSS"] / 1024, 1),
        "rss_peak_mb": round(peak["rss_kb"] / 1024, 1),
        "rss_with_max_open_mb": round(rss_at_max_open / 1024, 1),
        "rss_after_mb": round(after["VmRSS"] / 1024, 1),
        # Per stream that was actually open (all of them, unless some failed to start).
        "rss_per_stream_mb": round((peak["rss_kb"] - idle["VmRSS"]) / 1024 / max(1, gauge.most), 3),
        "threads_idle": idle.get("Threads"),
        "threads_peak": max((s["threads"] or 0 for s in samples), default=None),
        "stream_p50_s": round(pct([r.total for r in ok], 50) or 0, 2),
        "stream_max_s": round(max((r.total for r in ok), default=0), 2),
        "ttfe_p50_ms": ms(pct([r.ttfe for r in ok if r.ttfe], 50)),
        "ttfe_p95_ms": ms(pct([r.ttfe for r in ok if r.ttfe], 95)),
    }
