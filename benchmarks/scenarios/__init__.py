"""The benchmark's scenarios, in the order they run on each database and appear in the report
(the targets table lists their goals in the same order). To add one, see benchmarks/README.md,
"Adding a scenario"."""

from benchmarks.harness.scenario import Scenario

from .items_list import ItemsList
from .long_thread import LongThread
from .memory import Memory
from .queries import Queries
from .throughput import Throughput

SCENARIOS: tuple[Scenario, ...] = (Throughput(), Queries(), LongThread(), ItemsList(), Memory())

__all__ = ["SCENARIOS"]
