"""items.list pages deep inside a big thread: wall time on loopback and the server's own time
(``Server-Timing``), ours on each database and the peer's store once."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from benchmarks.harness.client import Target, client_for, items_list_body
from benchmarks.harness.config import FULL_BIG_ITEMS, RunConfig
from benchmarks.harness.console import log
from benchmarks.harness.figures import count_errors, fmt, markdown_table, ms, pct
from benchmarks.harness.goals import Bound, Goal, Measured, Reading
from benchmarks.harness.scenario import Context, Prefill, Scenario

PAGE = 20  # items per page
WARMUP = 5  # requests per case that are not measured
Case = tuple[str, str | None, str]  # thread id, after (an item id, or None), order


async def timed_pages(client: Any, target: Target, case: Case, requests: int) -> dict[str, Any]:
    """``requests`` items.list requests of one case, one at a time, after a warm-up."""
    body = items_list_body(*case, limit=PAGE)
    walls: list[float] = []
    server: list[float] = []
    errors: dict[str, int] = {}
    for index in range(requests + WARMUP):
        start = time.perf_counter()
        try:
            response = await client.post(target.path, content=body, headers=target.headers())
            wall = time.perf_counter() - start
            page = response.json()
            if response.status_code != 200 or len(page.get("data", [])) != PAGE:
                raise ValueError(f"HTTP {response.status_code}, {str(page)[:100]}")
        except Exception as error:
            count_errors(errors, f"{type(error).__name__}: {error}"[:120])
            continue
        if index < WARMUP:
            continue
        walls.append(wall)
        timing = response.headers.get("server-timing", "")
        if "dur=" in timing:
            server.append(float(timing.split("dur=", 1)[1].split(";")[0]) / 1000)
    return {
        "requests": len(walls),
        "errors": errors,
        "wall_p50_ms": ms(pct(walls, 50)),
        "wall_p95_ms": ms(pct(walls, 95)),
        "server_p50_ms": ms(pct(server, 50)),
        "server_p95_ms": ms(pct(server, 95)),
    }


async def items_list(target: Target, cases: dict[str, Case], requests: int) -> dict[str, Any]:
    """Each case on one connection, sequentially."""
    async with client_for(target, 2) as client:
        return {
            label: await timed_pages(client, target, case, requests)
            for label, case in cases.items()
        }


def deep_in_big_thread(results: Mapping[str, Any]) -> Measured:
    big = results["meta"]["big_thread_items"]
    readings = []
    for db, entry in results.get("items_list", {}).items():
        deep = entry.get(f"deep_{big}_asc") if db != "peer" else None
        if deep:
            figure = (
                f"{db} {fmt(deep['wall_p50_ms'])} ms wall, {fmt(deep['server_p50_ms'])} ms server"
            )
            # The target is the server's time; the wall time adds the loopback HTTP
            # client's own work, shown beside it.
            readings.append(Reading(figure, {"value": deep["server_p50_ms"]}))
    if big != FULL_BIG_ITEMS:
        return Measured(readings, f"thread of {big:,} items, not {FULL_BIG_ITEMS:,}")
    return Measured(readings)


class ItemsList(Scenario):
    key = "items_list"
    goals = (
        Goal(
            f"items.list deep in {FULL_BIG_ITEMS:,} items",
            (Bound("<", 5, " ms"),),
            deep_in_big_thread,
        ),
    )

    def prefill(self, config: RunConfig) -> Prefill:
        ours = {2000: 1}
        ours[config.big_items] = ours.get(config.big_items, 0) + 1  # --big-items 2000 too
        return Prefill(ours=ours, peer={2000: 1})

    async def run(self, context: Context, section: dict[str, Any]) -> None:
        big_items = context.config.big_items
        log(f"{context.db}: items.list deep inside {big_items:,} items")
        threads, middle = context.threads.ours, context.threads.middle
        big, long = threads[big_items][-1], threads[2000][0]
        cases: dict[str, Case] = {
            f"deep_{big_items}_asc": (big, middle[big], "asc"),
            f"deep_{big_items}_desc": (big, middle[big], "desc"),
            "deep_2000_asc": (long, middle[long], "asc"),
            "first_page_2000": (long, None, "asc"),
        }
        requests = context.config.list_requests
        section[context.db] = await items_list(context.site.ours, cases, requests)
        if context.db == "sqlite" or "peer" not in section:
            peer_long = context.threads.peer[2000][0]
            peer_case: Case = (peer_long, middle[peer_long], "asc")
            section["peer"] = await items_list(
                context.bench.peer, {"deep_2000_asc": peer_case}, requests
            )
        for label, entry in section[context.db].items():
            log(
                f"  {label}: wall p50 {entry['wall_p50_ms']} ms,"
                f" server p50 {entry['server_p50_ms']} ms, errors {entry['errors']}"
            )

    def tables(self, section: dict[str, Any]) -> list[str]:
        rows = [row(db, label, e) for db, cases in section.items() for label, e in cases.items()]
        columns = ["DB", "Server", "Page", "Wall p50", "Wall p95", "Server p50 (Server-Timing)"]
        return markdown_table("items.list (20 items, sequential on one connection)", columns, rows)


def row(db: str, label: str, e: dict[str, Any]) -> list[str]:
    server = "peer" if db == "peer" else "ours"
    wall = [fmt(e["wall_p50_ms"], " ms"), fmt(e["wall_p95_ms"], " ms")]
    return [
        "-" if db == "peer" else db,
        server,
        label.replace("_", " "),
        *wall,
        fmt(e["server_p50_ms"], " ms"),
    ]
