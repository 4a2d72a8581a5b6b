"""A deterministic streaming model for the Agents SDK: no network, no sleeps unless asked.

Every call streams one assistant message of ``words`` words as ``words`` text deltas, with a
fresh message id, as the Responses API does: ``response.created``, ``output_item.added``,
``content_part.added``, N ``output_text.delta``, ``output_text.done``, ``content_part.done``,
``output_item.done``, ``response.completed`` (with usage). ``delay`` seconds pass before each
delta when it is set (the slow-stream memory test uses 0.1).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from agents import Model, ModelResponse, Usage

from chatkit_backend.providers import events

VOCABULARY = (
    "the backend streams every word of this deterministic answer as one text delta so that "
    "the benchmark measures the server and not the model"
).split()


def deltas_for(words: int) -> list[str]:
    """The ``words`` deltas of an answer: words with their trailing space, the last without."""
    chosen = [VOCABULARY[i % len(VOCABULARY)] for i in range(words)]
    return [word + " " for word in chosen[:-1]] + chosen[-1:]


def _input_words(input: Any) -> int:
    if isinstance(input, str):
        return len(input.split())
    total = 0
    for item in input:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, str):
            total += len(content.split())
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += len(part["text"].split())
    return total


class BenchModel(Model):
    """Streams ``words`` text deltas per call; ``delay`` seconds before each delta."""

    def __init__(self, words: int = 40, delay: float = 0.0, name: str = "bench-model"):
        if words < 1:
            raise ValueError("words must be at least 1")
        self.words = words
        self.delay = delay
        self.name = name
        self._deltas = deltas_for(words)
        self._text = "".join(self._deltas)

    async def get_response(  # type: ignore[override]
        self, system_instructions, input, model_settings, tools, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        words_in = _input_words(input)
        return ModelResponse(
            output=[events.message(self._text)],
            usage=Usage(
                requests=1,
                input_tokens=words_in,
                output_tokens=self.words,
                total_tokens=words_in + self.words,
            ),
            response_id=None,
        )

    async def stream_response(  # type: ignore[override]
        self, system_instructions, input, model_settings, tools, *args: Any, **kwargs: Any
    ) -> AsyncIterator[Any]:
        if self.delay:
            await asyncio.sleep(self.delay)  # stream_output waits only between deltas
        async for event in events.stream_output(
            [events.message(self._text)],
            model=self.name,
            tokens=events.usage(_input_words(input), self.words),
            deltas=lambda text: self._deltas,
            delay=self.delay,
        ):
            yield event
