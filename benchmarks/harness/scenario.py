"""What a scenario is, and what it is given to run: the extension point of the benchmark.

A scenario is one measurement (throughput, queries per turn, ...). It says which prefilled
threads it needs, runs on each database while our site is up (or on its own server, after the
shared one has stopped), writes its figures into its section of the results, renders its table
and declares its goals. ``benchmarks/scenarios/__init__.py`` lists the scenarios in the order
they run and report; see benchmarks/README.md, "Adding a scenario".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .client import Target
from .config import RunConfig
from .goals import Goal
from .servers import (
    FLOOR_APP,
    OUR_APP,
    OUR_FULL_STACK_APP,
    PEER_APP,
    SHARED_FLOOR_APP,
    Servers,
)

OUR_PATH = "/chatkit/api"
PEER_PATH = "/chatkit"


@dataclass(frozen=True)
class Prefill:
    """Threads a scenario needs prefilled, as {items per thread: threads}, on our site (on each
    database) and on the peer. Each scenario gets threads of its own."""

    ours: Mapping[int, int] = field(default_factory=dict)
    peer: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Threads:
    """A scenario's prefilled threads, as {items per thread: thread ids}, and the id of each
    thread's middle item (a cursor deep inside it)."""

    ours: Mapping[int, list[str]]
    peer: Mapping[int, list[str]]
    middle: Mapping[str, str]


@dataclass(frozen=True)
class Bench:
    """What the whole run shares: its settings, its servers, the peer and the floor (up while
    the databases run), and its list of problems (each one line of the report)."""

    config: RunConfig
    servers: Servers
    peer: Target
    floor: Target
    problems: list[str]

    @staticmethod
    def start_baselines(config: RunConfig, servers: Servers) -> tuple[Target, Target]:
        """The peer and the floor, started (not yet ready)."""
        env = servers.env(BENCH_WORDS=str(config.words))
        peer = Target("peer", servers.start("peer", PEER_APP, env), PEER_PATH)
        floor = Target("floor", servers.start("floor", FLOOR_APP, env), PEER_PATH)
        return peer, floor

    def start_shared_floor(self) -> Target:
        """The peer with its request adapter cached: the work every chatkit backend shares."""
        env = self.servers.env(BENCH_WORDS=str(self.config.words))
        server = self.servers.start("shared-floor", SHARED_FLOOR_APP, env)
        return Target("shared floor", server, PEER_PATH)

    def start_peer(self, server_name: str) -> Target:
        """Another peer server, fresh (for a test that needs one to itself)."""
        env = self.servers.env(BENCH_WORDS=str(self.config.words))
        return Target("peer", self.servers.start(server_name, PEER_APP, env), PEER_PATH)


@dataclass(frozen=True)
class Site:
    """Our site on one database: migrated, with users and their tokens, and its shared server
    (``ours``, up while the scenarios that do not run alone run)."""

    bench: Bench
    db: str
    database_url: str
    tokens: list[str]
    ours: Target

    @staticmethod
    def start_server(
        bench: Bench, server_name: str, database_url: str, tokens: list[str]
    ) -> Target:
        env = bench.servers.site_env(database_url, bench.config.words)
        return Target("ours", bench.servers.start(server_name, OUR_APP, env), OUR_PATH, tokens)

    def start_ours(self, server_name: str) -> Target:
        """Another server of our site on this database, fresh (started, not yet ready)."""
        return self.start_server(self.bench, server_name, self.database_url, self.tokens)

    def start_full_stack(self) -> Target:
        """Our site without the lean path: every request through the whole ``MIDDLEWARE``."""
        env = self.bench.servers.site_env(self.database_url, self.bench.config.words)
        server = self.bench.servers.start(f"ours-full-{self.db}", OUR_FULL_STACK_APP, env)
        return Target("ours-full", server, OUR_PATH, self.tokens)


@dataclass(frozen=True)
class Context:
    """What a scenario gets on one database: the run, our site, and its own threads."""

    bench: Bench
    site: Site
    threads: Threads

    @property
    def config(self) -> RunConfig:
        return self.bench.config

    @property
    def db(self) -> str:
        return self.site.db


class Scenario:
    """One measurement of the benchmark. Subclass it, and list an instance in
    ``benchmarks.scenarios.SCENARIOS``."""

    key: ClassVar[str]  # its section of the results JSON: {database: figures}, usually
    goals: ClassVar[tuple[Goal, ...]] = ()  # its rows of the targets table
    # True: runs after our site's shared server has stopped (and starts its own with
    # ``context.site.start_ours``); False: runs while it is up, after the scenarios before it.
    alone: ClassVar[bool] = False

    def prefill(self, config: RunConfig) -> Prefill:
        """The threads it needs prefilled (none by default)."""
        return Prefill()

    async def run(self, context: Context, section: dict[str, Any]) -> None:
        """Measure on ``context.db``; write the figures into ``section`` (usually under the
        database's name). An exception ends this database's run and is listed as a problem."""
        raise NotImplementedError

    async def after_databases(self, bench: Bench, section: dict[str, Any]) -> None:
        """Anything measured once, after every database (the peer and the floor are stopped)."""

    def tables(self, section: dict[str, Any]) -> list[str]:
        """Its part of the report: markdown lines (``figures.markdown_table``)."""
        return []

    def errors(self, section: dict[str, Any]) -> list[str]:
        """Lines for the report's "Errors seen" list."""
        return []
