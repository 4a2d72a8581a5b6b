"""Throughput, time to first event and server CPU per turn: ours (the lean path), ours behind
the full middleware stack, the peer, the shared floor (the peer with its adapter cached) and
the floor, alternately, round by round, at 1 and 10 clients."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks.harness.client import Target
from benchmarks.harness.config import RunConfig
from benchmarks.harness.console import log
from benchmarks.harness.figures import fmt, markdown_table
from benchmarks.harness.goals import BASELINE, Bound, Goal, Measured, Reading
from benchmarks.harness.scenario import Context, Scenario

from .closed_loop import closed_loop, pooled

CONCURRENCIES = (1, 10)
SERVERS = ("ours", "ours-full", "peer", "shared floor", "floor")


async def alternate(targets: list[Target], config: RunConfig, concurrency: int) -> dict[str, Any]:
    """Every target once per round, the order rotating; pooled, with ratios to the peer."""
    runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    for round_index in range(config.rounds):
        shift = round_index % len(targets)
        for target in targets[shift:] + targets[:shift]:
            result = await closed_loop(
                target,
                concurrency=concurrency,
                duration=config.duration,
                max_turns=config.max_turns,
                words=config.words,
                warmup=config.warmup,
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
    return summary


def ratio(results: Mapping[str, Any], db: str, concurrency: int) -> float | None:
    return results.get("throughput", {}).get(db, {}).get(str(concurrency), {}).get("ratio_vs_peer")


def ratios_at(concurrency: int) -> Callable[[Mapping[str, Any]], Measured]:
    """Each database's ratio at ``concurrency``; one whose peer made no turns is not judged."""

    def measure(results: Mapping[str, Any]) -> Measured:
        readings = []
        for db in results.get("throughput", {}):
            value = ratio(results, db, concurrency)
            values = None if value is None else {"value": value}
            readings.append(Reading(f"{db} {fmt(value)}x", values))
        return Measured(readings)

    return measure


def ttfe_at(concurrency: int) -> Callable[[Mapping[str, Any]], Measured]:
    def measure(results: Mapping[str, Any]) -> Measured:
        readings = []
        for db, by_concurrency in results.get("throughput", {}).items():
            runs = by_concurrency.get(str(concurrency), {})
            if runs.get("ours") and runs.get("peer"):
                ours, peer = runs["ours"]["ttfe_p50_ms"], runs["peer"]["ttfe_p50_ms"]
                figure = f"{db} {fmt(ours)} vs {fmt(peer)} ms"
                readings.append(Reading(figure, {"value": ours, BASELINE: peer}))
        return Measured(readings)

    return measure


def cpu_per_turn(results: Mapping[str, Any]) -> Measured:
    """Ours at one client, with the shared floor's figure beside it."""
    readings = []
    for db, by_concurrency in results.get("throughput", {}).items():
        one = by_concurrency.get("1", {})
        ours = (one.get("ours") or {}).get("server_cpu_ms_per_turn")
        floor = (one.get("shared floor") or {}).get("server_cpu_ms_per_turn")
        if ours is not None:
            figure = f"{db} {fmt(ours)} ms (shared floor {fmt(floor)} ms)"
            readings.append(Reading(figure, {"value": ours}))
    return Measured(readings)


class Throughput(Scenario):
    key = "throughput"
    goals = (
        Goal(
            "turns/s at 10 clients vs the peer (must: >= 1.0x)",
            (Bound(">=", 1.2, "x baseline"),),
            ratios_at(10),
        ),
        Goal(
            "turns/s at 1 client vs the peer (must: >= 0.7x)",
            (Bound(">=", 0.8, "x baseline"),),
            ratios_at(1),
        ),
        Goal("TTFE p50 at 1 client", (Bound("<=", BASELINE),), ttfe_at(1)),
        Goal("TTFE p50 at 10 clients", (Bound("<=", BASELINE),), ttfe_at(10)),
        Goal("server CPU per turn, 1 client", (Bound("<=", 10, " ms"),), cpu_per_turn),
    )

    async def run(self, context: Context, section: dict[str, Any]) -> None:
        log(f"{context.db}: throughput, alternating {' / '.join(SERVERS)}")
        bench = context.bench
        full, shared = context.site.start_full_stack(), bench.start_shared_floor()
        try:
            full.server.wait_ready()
            shared.server.wait_ready()
            targets = [context.site.ours, full, bench.peer, shared, bench.floor]
            section[context.db] = {
                str(concurrency): await alternate(targets, context.config, concurrency)
                for concurrency in CONCURRENCIES
            }
        finally:
            full.server.stop()
            shared.server.stop()

    def tables(self, section: dict[str, Any]) -> list[str]:
        rows = []
        for db, by_concurrency in section.items():
            for concurrency, summary in by_concurrency.items():
                for name in SERVERS:
                    if s := summary.get(name):
                        rows.append(row(db, concurrency, name, s))
        columns = ["DB", "Clients", "Server", "Turns/s", "vs peer", "TTFE p50", "TTFE p95"]
        columns += ["Server CPU/turn", "Other CPU", "Errors"]
        title = "Throughput and time to first event (closed loop, full turns)"
        return markdown_table(title, columns, rows)

    def errors(self, section: dict[str, Any]) -> list[str]:
        return [
            f"- throughput {db} {concurrency} clients {name}: {s['error_kinds']}"
            for db, by_concurrency in section.items()
            for concurrency, summary in by_concurrency.items()
            for name, s in summary.items()
            if isinstance(s, dict) and s.get("error_kinds")
        ]


def row(db: str, concurrency: str, name: str, s: dict[str, Any]) -> list[str]:
    ratio_text = f"{s['vs_peer']:.2f}x" if s.get("vs_peer") is not None else "n/a"
    return [
        db,
        concurrency,
        name,
        fmt(s["turns_per_s"]),
        ratio_text,
        fmt(s["ttfe_p50_ms"], " ms"),
        fmt(s["ttfe_p95_ms"], " ms"),
        fmt(s["server_cpu_ms_per_turn"], " ms"),
        fmt(s["other_cpu_util"]),
        s["errors"],
    ]
