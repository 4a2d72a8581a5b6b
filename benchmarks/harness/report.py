"""The report: the targets, each scenario's table and the errors seen, as markdown; the JSON
written as it is kept; the tables put into benchmarks/README.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .config import BENCH_DIR
from .figures import markdown_table
from .goals import verdict
from .scenario import Scenario

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def evaluate(results: dict[str, Any], scenarios: Sequence[Scenario]) -> list[dict[str, Any]]:
    """Each goal, its figure and whether it is met."""
    return [goal.evaluate(results) for scenario in scenarios for goal in scenario.goals]


def code_line(meta: dict[str, Any]) -> str:
    """Which code ran, and whether it changed during the run."""
    start = f"Code: {meta['code_start']} (source digest {meta['source_digest_start']})"
    if meta.get("source_digest_end") == meta["source_digest_start"]:
        return start + "; unchanged during the run.  "
    if meta.get("code_source") == "snapshot":
        return start + (
            "; the servers ran a snapshot taken at the start (the working tree moved on to "
            f"{meta['code_end']}, {meta['source_digest_end']}, meanwhile).  "
        )
    return start + (
        f"; **the code changed during the run**, at the end: {meta['code_end']} "
        f"({meta['source_digest_end']})  "
    )


def header(meta: dict[str, Any]) -> list[str]:
    m = meta["machine"]
    v = meta["versions"]
    return [
        f"Run {meta['started']} ({meta['mode']}): `{meta['command']}`  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux {m['kernel']}; "
        f"Python {v['python']}, Django {v['django']}, openai-chatkit {v['openai-chatkit']}, "
        f"openai-agents {v['openai-agents']}, uvicorn {v['uvicorn']} (uvloop {v['uvloop']}, "
        f"httptools {v['httptools']}).  ",
        code_line(meta),
        f"Answers of {meta['words_per_answer']} words (= text deltas); throughput: "
        f"{meta['rounds']} round(s) x {meta['duration_s']} s per target and concurrency, "
        f"alternating; load average at start {meta['load_average_start']}.",
    ]


def markdown(results: dict[str, Any], scenarios: Sequence[Scenario]) -> str:
    """The tables of a run (latest.md, and the README's results)."""
    targets = [
        [row["target"], row["goal"], row["figure"], verdict(row["met"])]
        for row in evaluate(results, scenarios)
    ]
    lines = header(results["meta"])
    lines += markdown_table("Targets", ["Target", "Goal", "Measured", ""], targets)
    errors: list[str] = []
    for scenario in scenarios:
        section = results.get(scenario.key, {})
        lines += scenario.tables(section)
        errors += scenario.errors(section)
    errors += [f"- {problem.splitlines()[0][:300]}" for problem in results.get("problems", [])]
    lines += ["", "### Errors seen", ""] + (errors or ["None."])
    return "\n".join(lines) + "\n"


def write_readme(table: str) -> None:
    """Put ``table`` between the results markers of benchmarks/README.md."""
    readme = BENCH_DIR / "README.md"
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise RuntimeError("README.md has no results markers")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{table}{README_END}{tail}")


def strip_private(value: Any) -> Any:
    """Without the keys that start with "_" (raw samples kept for pooling, not for the JSON)."""
    if isinstance(value, dict):
        return {k: strip_private(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [strip_private(v) for v in value]
    return value
