"""A slow, observable model stream, for tests that stop a turn in the middle.

``SlowTextStream`` is a ``ModelStep.stream`` factory that streams one assistant message slowly
and records how far it got, so a test can tell whether the model stream was stopped.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agents.testing import ModelCall

from chatkit_backend.providers import events


@dataclass
class SlowTextStream:
    """A ``ModelStep.stream`` factory: one assistant message, one delta every ``delay`` seconds.

    It records how many deltas it produced and how it ended, from the server's thread; read
    ``produced`` and wait on ``ended`` from the test.
    """

    deltas: list[str]
    delay: float = 0.05
    item_id: str = "msg_provider_1"
    produced: int = 0
    completed: bool = False
    closed_early: bool = False
    exit_reason: str | None = None
    delta_times: list[float] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def words(cls, count: int, delay: float = 0.05) -> SlowTextStream:
        return cls([f"word{index} " for index in range(count)], delay=delay)

    @property
    def full_text(self) -> str:
        return "".join(self.deltas)

    def _count(self, delta: str) -> None:
        self.produced += 1
        self.delta_times.append(time.monotonic())

    async def __call__(self, call: ModelCall) -> AsyncIterator[Any]:
        try:
            async for event in events.stream_output(
                [events.message(self.full_text, self.item_id)],
                model="scripted-model",
                tokens=events.usage(1, 1),
                deltas=lambda text: self.deltas,
                delay=self.delay,
                on_delta=self._count,
            ):
                yield event
            self.completed = True
        except (GeneratorExit, asyncio.CancelledError) as error:
            self.closed_early = True
            self.exit_reason = type(error).__name__
            raise
        finally:
            self.ended.set()
