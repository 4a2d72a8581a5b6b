"""Figures in (percentiles, seconds to milliseconds) and out (how the tables print them)."""

from __future__ import annotations

import math
from typing import Any


def pct(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def fmt(value: Any, suffix: str = "") -> str:
    """A figure for a table: two decimals below 100, none above; "n/a" for nothing."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return text + suffix


def count_errors(errors: dict[str, int], key: str, count: int = 1) -> None:
    """Add ``count`` errors of kind ``key`` (the tally every measurement keeps)."""
    errors[key] = errors.get(key, 0) + count


def markdown_row(cells: list[Any]) -> str:
    return "|" + "|".join(f" {cell} " if cell != "" else " " for cell in cells) + "|"


def markdown_table(title: str, columns: list[str], rows: list[list[Any]]) -> list[str]:
    """A titled markdown table, as the lines of a section of the report."""
    return [
        "",
        f"### {title}",
        "",
        markdown_row(columns),
        markdown_row(["---"] * len(columns)),
        *(markdown_row(row) for row in rows),
    ]
