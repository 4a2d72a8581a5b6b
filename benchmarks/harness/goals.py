"""Goals, each written once: what the targets table says the goal is, and what decides "met".

A scenario declares its goals next to its measurements, for example::

    Goal(
        "turn on 2,000 items vs 10 items",
        (Bound("<=", 1.2, "x"),),
        measure=ours_ratio,
    )

The table's Goal column is the bounds' text ("<= 1.2x"); ``measure`` reads the results into one
``Reading`` per database (its Measured text, and the values the bounds judge). The goal is met
when every judged reading satisfies every bound.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

OPS: Mapping[str, Callable[[Any, Any], bool]] = MappingProxyType(
    {"<": operator.lt, "<=": operator.le, "==": operator.eq, ">=": operator.ge, ">": operator.gt}
)
# A bound's threshold that is the peer's own figure, given as the reading's "baseline" value.
BASELINE = "baseline"


@dataclass(frozen=True)
class Reading:
    """One database's figure for a goal. ``values`` is None when there is nothing to judge
    (the figure is shown, the verdict leaves it out); a None value among them fails."""

    figure: str
    values: Mapping[str, float | None] | None = None


@dataclass(frozen=True)
class Measured:
    """A goal's readings; a ``caveat`` (the run was smaller than the goal's scale) is shown
    after them, and makes the verdict "n/a"."""

    readings: list[Reading]
    caveat: str | None = None


@dataclass(frozen=True)
class Bound:
    """``values[key] op threshold``, worded ``"<op> <threshold><unit>"`` unless ``wording``
    says it better ("no errors")."""

    op: str
    threshold: float | str  # a number, or BASELINE
    unit: str = ""
    key: str = "value"
    wording: str | None = None

    @property
    def text(self) -> str:
        return self.wording or f"{self.op} {self.threshold}{self.unit}"

    def holds(self, values: Mapping[str, float | None]) -> bool:
        value = values.get(self.key)
        limit = values.get(BASELINE) if self.threshold == BASELINE else self.threshold
        return value is not None and limit is not None and OPS[self.op](value, limit)


@dataclass(frozen=True)
class Goal:
    """A target of the benchmark: its label, its bounds, and how to read it from the results."""

    label: str
    bounds: tuple[Bound, ...]
    measure: Callable[[Mapping[str, Any]], Measured]
    separator: str = ", "  # between the readings in the Measured column

    def __post_init__(self) -> None:
        unknown = [bound.op for bound in self.bounds if bound.op not in OPS]
        if unknown or not self.bounds:
            raise ValueError(f"goal {self.label!r}: bounds {self.bounds!r}")

    @property
    def text(self) -> str:
        return ", ".join(bound.text for bound in self.bounds)

    def met(self, measured: Measured) -> bool | None:
        """None when nothing can be judged; otherwise whether every bound holds everywhere."""
        judged = [reading.values for reading in measured.readings if reading.values is not None]
        if measured.caveat or not judged:
            return None
        return all(bound.holds(values) for values in judged for bound in self.bounds)

    def evaluate(self, results: Mapping[str, Any]) -> dict[str, Any]:
        """The goal's row of the targets table (and of the JSON's ``targets``)."""
        measured = self.measure(results)
        figures = [reading.figure for reading in measured.readings]
        if measured.caveat:
            figures.append(f"({measured.caveat})")
        return {
            "target": self.label,
            "goal": self.text,
            "figure": self.separator.join(figures) or "n/a",
            "met": self.met(measured),
        }


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "**not met**")
