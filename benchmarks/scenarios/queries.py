"""Database statements and thread hops per turn on our site, counted server-side
(``/bench/queries``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.harness.client import Target, add_body, client_for, create_body, turn
from benchmarks.harness.config import RunConfig
from benchmarks.harness.console import log
from benchmarks.harness.figures import fmt, markdown_table
from benchmarks.harness.goals import Bound, Goal, Measured, Reading
from benchmarks.harness.scenario import Context, Prefill, Scenario

TX_VERBS = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})
KINDS = ("create", "add_10_items", "add_2000_items")


async def query_counts(client: Any, **params: Any) -> dict[str, Any]:
    return (await client.get("/bench/queries", params=params or None)).json()


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
        "hops_per_turn": round((after.get("hops", 0) - before.get("hops", 0)) / turns, 2),
        "turns": turns,
    }


async def counted(client: Any, target: Target, bodies: list[bytes], words: int) -> dict:
    """The statements per turn of ``bodies``, sent one at a time."""
    before = await query_counts(client)
    for body in bodies:
        result = await turn(client, target, body, words=words)
        if not result.ok:
            raise RuntimeError(f"query phase turn failed: {result.error}")
    return query_delta(before, await query_counts(client), len(bodies))


async def measure_queries(
    target: Target, threads10: list[str], thread2000: str, words: int, turns: int
) -> dict[str, Any]:
    """Statements the server ran per turn, sequentially (nothing else runs meanwhile)."""
    async with client_for(target, 2) as client:
        out: dict[str, Any] = {
            # threads.create turns (the first turn of a thread also saves its title).
            "create": await counted(client, target, [create_body()] * turns, words),
            "add_10_items": await counted(
                client, target, [add_body(t) for t in threads10[:turns]], words
            ),
            "add_2000_items": await counted(client, target, [add_body(thread2000)] * turns, words),
        }
        # The statements of one more add_user_message turn, for whoever optimises.
        before = await query_counts(client)
        await turn(client, target, add_body(thread2000), words=words)
        after = await query_counts(client, recent=400)
        count = after["total"] - before["total"]
        out["statements_of_one_add_turn"] = after["recent"][-count:] if count else []
    return out


def plain_turns(results: Mapping[str, Any]) -> Measured:
    readings = []
    for db, q in results.get("queries", {}).items():
        a, b = q["add_10_items"]["queries_per_turn"], q["add_2000_items"]["queries_per_turn"]
        values = {"value": max(a, b), "difference": abs(a - b)}
        readings.append(Reading(f"{db} {fmt(a)} / {fmt(b)}", values))
    return Measured(readings)


def hops(results: Mapping[str, Any]) -> Measured:
    readings = []
    for db, q in results.get("queries", {}).items():
        values = [q[kind].get("hops_per_turn") for kind in KINDS]
        if None in values:
            continue
        readings.append(
            Reading(f"{db} {' / '.join(fmt(v) for v in values)}", {"value": max(values)})
        )
    return Measured(readings)


class Queries(Scenario):
    key = "queries"
    goals = (
        Goal(
            "queries per plain text turn (10 and 2,000 items)",
            (Bound("<=", 8), Bound("==", 0, key="difference", wording="same for both")),
            plain_turns,
        ),
        Goal("thread hops per turn (create / add on 10 / add on 2,000)", (Bound("<=", 3),), hops),
    )

    def prefill(self, config: RunConfig) -> Prefill:
        return Prefill(ours={10: config.query_turns, 2000: 1})

    async def run(self, context: Context, section: dict[str, Any]) -> None:
        log(f"{context.db}: queries per turn")
        threads = context.threads.ours
        q = await measure_queries(
            context.site.ours,
            threads[10],
            threads[2000][0],
            context.config.words,
            context.config.query_turns,
        )
        section[context.db] = q
        log(
            f"  create {q['create']['queries_per_turn']}, add on 10 items"
            f" {q['add_10_items']['queries_per_turn']}, add on 2,000 items"
            f" {q['add_2000_items']['queries_per_turn']} queries per turn;"
            f" hops {q['add_10_items']['hops_per_turn']}"
        )

    def tables(self, section: dict[str, Any]) -> list[str]:
        rows = [
            [
                db,
                kind.replace("_", " "),
                fmt(q[kind]["queries_per_turn"]),
                fmt(q[kind]["transaction_statements_per_turn"]),
                fmt(q[kind]["connections_per_turn"]),
                fmt(q[kind].get("hops_per_turn")),
            ]
            for db, q in section.items()
            for kind in KINDS
        ]
        columns = ["DB", "Turn", "Queries", "+ transaction statements", "Database connects"]
        columns += ["Thread hops"]
        return markdown_table(
            "Database statements and thread hops per turn (ours, counted server-side)",
            columns,
            rows,
        )
