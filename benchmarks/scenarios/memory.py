"""Memory with slow streams: hundreds of concurrent turns streaming one delta per 100 ms on
one freshly started worker; its RSS idle and while they stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.harness.client import Target
from benchmarks.harness.config import FULL_STREAMS
from benchmarks.harness.console import log
from benchmarks.harness.figures import fmt, markdown_table
from benchmarks.harness.goals import Bound, Goal, Measured, Reading
from benchmarks.harness.scenario import Bench, Context, Scenario

from .slow_streams import slow_streams

DELAY = 0.1  # seconds between two deltas of a slow stream


def per_database(results: Mapping[str, Any]) -> Measured:
    ours = {db: m for db, m in results.get("memory", {}).items() if db != "peer"}
    readings = [
        Reading(
            f"{db}: {m['errors']} errors of {m['streams']} streams, "
            f"{fmt(m['rss_per_stream_mb'])} MB/stream",
            {"errors": m["errors"], "value": m["rss_per_stream_mb"]},
        )
        for db, m in ours.items()
    ]
    if any(m["streams"] < FULL_STREAMS for m in ours.values()):
        return Measured(readings, f"fewer than {FULL_STREAMS} streams")
    return Measured(readings)


def log_memory(name: str, m: dict[str, Any]) -> None:
    log(
        f"  {name}: {m['completed']}/{m['streams']} streams, max open {m['max_open_at_once']},"
        f" RSS idle {m['rss_idle_mb']} MB, peak {m['rss_peak_mb']} MB,"
        f" {m['rss_per_stream_mb']} MB/stream, threads peak {m['threads_peak']},"
        f" errors {m['errors']} {m['error_kinds']}"
    )


async def measure(bench: Bench, target: Target, name: str, log_lines: int = 0) -> dict[str, Any]:
    """The slow streams on ``target``, a fresh server, stopped afterwards; with ``log_lines``,
    the end of its log as well."""
    config = bench.config
    try:
        target.server.wait_ready()
        figures = await slow_streams(
            target,
            streams=config.streams,
            words=config.slow_words,
            delay=DELAY,
            warm_words=config.words,
        )
        log_memory(name, figures)
        if log_lines:
            figures["server_log_tail"] = target.server.log_tail(log_lines)
        return figures
    finally:
        target.server.stop()


class Memory(Scenario):
    key = "memory"
    goals = (
        Goal(
            f"{FULL_STREAMS} slow streams on one worker",
            (
                Bound("==", 0, key="errors", wording="no errors"),
                Bound("<", 0.5, " MB RSS per stream"),
            ),
            per_database,
            separator="; ",
        ),
    )
    alone = True  # on a worker of its own, freshly started

    async def run(self, context: Context, section: dict[str, Any]) -> None:
        db, config = context.db, context.config
        if db not in config.memory_dbs:
            return
        log(f"{db}: memory, {config.streams} slow streams (one delta per 100 ms) on a fresh worker")
        target = context.site.start_ours(f"ours-{db}-memory")
        section[db] = await measure(context.bench, target, f"ours ({db})", log_lines=15)

    async def after_databases(self, bench: Bench, section: dict[str, Any]) -> None:
        if not bench.config.memory_peer:
            return
        log(f"memory: {bench.config.streams} slow streams on the peer app")
        try:
            section["peer"] = await measure(bench, bench.start_peer("peer-memory"), "peer")
        except Exception as error:
            bench.problems.append(f"memory peer: {type(error).__name__}: {error}"[:2000])

    def tables(self, section: dict[str, Any]) -> list[str]:
        rows = [
            [
                "peer (memory)" if db == "peer" else f"ours ({db})",
                e["streams"],
                e["completed"],
                e["errors"],
                e["max_open_at_once"],
                fmt(e["rss_idle_mb"], " MB"),
                fmt(e["rss_peak_mb"], " MB"),
                fmt(e["rss_per_stream_mb"], " MB"),
                fmt(e["threads_peak"]),
                f"{fmt(e['stream_p50_s'], ' s')} ({fmt(e['ideal_stream_s'], ' s')})",
            ]
            for db, e in section.items()
        ]
        columns = ["Server", "Streams", "Completed", "Errors", "Max open at once", "RSS idle"]
        columns += ["RSS peak", "Per stream", "Threads peak", "Stream p50 (ideal)"]
        return markdown_table("Slow streams on one worker (one delta per 100 ms)", columns, rows)

    def errors(self, section: dict[str, Any]) -> list[str]:
        return [
            f"- memory {db}: {e['error_kinds']}"
            for db, e in section.items()
            if e.get("error_kinds")
        ]
