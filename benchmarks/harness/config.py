"""Where things are, and one run's settings (the CLI's flags, with the quick and full sizes)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"

# The sizes of a full run, which are also the scale the goals are written for: a quick run is
# smaller, and its verdicts for these goals are "n/a".
FULL_BIG_ITEMS = 100_000
FULL_STREAMS = 500


@dataclass(frozen=True)
class RunConfig:
    """What one run measures, and how long: the flags, with quick or full defaults filled in."""

    quick: bool
    dbs: tuple[str, ...]
    pg_url: str
    words: int  # text deltas per answer
    duration: float  # seconds per throughput measurement
    rounds: int  # alternating throughput rounds per concurrency
    streams: int  # concurrent slow streams in the memory test
    big_items: int  # items in the big thread of the items.list test
    slow_words: int  # deltas per slow stream (one per 100 ms)
    warmup: int  # unmeasured turns before each throughput measurement
    max_turns: int  # bound of one throughput measurement, whatever its duration
    long_turns: int  # turns per server and thread size in the long-thread test
    query_turns: int  # turns per kind in the queries-per-turn test
    list_requests: int  # requests per items.list case
    memory_dbs: tuple[str, ...]  # databases our memory test runs on
    memory_peer: bool  # whether the memory test runs on the peer too

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunConfig:
        quick = args.quick
        dbs = tuple(d.strip() for d in args.dbs.split(",") if d.strip())
        return cls(
            quick=quick,
            dbs=dbs,
            pg_url=args.pg_url,
            words=args.words,
            duration=args.duration or (2.0 if quick else 3.0),
            rounds=args.rounds or (1 if quick else 5),
            streams=args.streams or (100 if quick else FULL_STREAMS),
            big_items=args.big_items or (20_000 if quick else FULL_BIG_ITEMS),
            slow_words=60 if quick else 200,
            warmup=10,
            max_turns=20_000,
            long_turns=12 if quick else 40,
            query_turns=5,
            list_requests=50 if quick else 200,
            memory_dbs=("sqlite",) if quick else dbs,
            memory_peer=not quick,
        )
