"""The agent every server in the benchmark answers with: one ``BenchModel``, no tools.

``BENCH_WORDS`` (default 40) sets how many text deltas an answer has and
``BENCH_DELTA_DELAY`` (seconds, default 0) the pause before each delta; a request may ask for
others with the ``X-Bench-Words`` / ``X-Bench-Delay`` headers. Our site reaches it
through ``CHATKIT_BACKEND["AGENT"] = "benchmarks.agent.build_agent"`` (see bench_settings);
the peer app calls the same function.
"""

from __future__ import annotations

import os
from typing import Any

from agents import Agent

from .model import BenchModel

INSTRUCTIONS = "You are the benchmark assistant. Answer in one short message."

DEFAULT_WORDS = int(os.environ.get("BENCH_WORDS", "40"))
DEFAULT_DELAY = float(os.environ.get("BENCH_DELTA_DELAY", "0"))

_MODELS: dict[tuple[int, float], BenchModel] = {}


def _request_of(context: Any) -> Any:
    # Our site: RequestContext.request (a Django HttpRequest); the peer app: {"request": ...}.
    if isinstance(context, dict):
        return context.get("request")
    return getattr(context, "request", None)


def model_for(context: Any) -> BenchModel:
    """The environment's model, or the one the request asks for with ``X-Bench-Words`` /
    ``X-Bench-Delay`` (the memory test sends slow turns to a server warmed up with fast ones)."""
    words, delay = DEFAULT_WORDS, DEFAULT_DELAY
    request = _request_of(context)
    headers = getattr(request, "headers", None)
    if headers is not None:
        words = int(headers.get("x-bench-words") or words)
        delay = float(headers.get("x-bench-delay") or delay)
    key = (words, delay)
    if key not in _MODELS:
        _MODELS[key] = BenchModel(words=words, delay=delay)
    return _MODELS[key]


def build_agent(context: Any = None) -> Agent[Any]:
    """A fresh Agent per request, as the example site's ``build_agent`` does."""
    return Agent(name="Benchmark assistant", instructions=INSTRUCTIONS, model=model_for(context))
