"""What one Agents run spends: the provider's figures, or an estimate for what it never
reported (a run that ended early, or a provider that reports no usage)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    ThreadItemAddedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)

if TYPE_CHECKING:
    from agents import RunResultStreaming

CHARS_PER_TOKEN = 4
"""The estimate rule: one token for every four characters of text, rounded up."""


def estimate_tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def text_chars(value: Any) -> int:
    """Characters of text in model input: every string in it, except files sent as data URLs."""
    if isinstance(value, str):
        return 0 if value.startswith("data:") else len(value)
    if isinstance(value, dict):
        return sum(text_chars(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(text_chars(item) for item in value)
    return 0


@dataclass(frozen=True)
class Charge:
    """What one agent run is charged: the provider's figures, or an estimate."""

    provider: str
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    estimated: bool

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def fields(self) -> dict[str, Any]:
        """Field values for a ``TurnUsage`` row."""
        return {
            "provider": self.provider,
            "model": self.model[:128],
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "estimated": self.estimated,
        }


@dataclass(eq=False)
class UsageMeter:
    """What one Agents run has spent so far, so it can be charged however the turn ends.

    Providers report usage only at the end of each model response. A run that completes is
    charged what they reported. A run that ends early (the client left, the thread was
    deleted, the provider failed) is charged what was reported for the responses that
    finished, plus an estimate for the one being streamed: its input is the run's model input
    (history, new message and instructions) and its output the text streamed from it, both at
    :data:`CHARS_PER_TOKEN` characters a token. A run whose provider reports no usage at all
    is estimated the same way.
    """

    provider: str
    model: Callable[[], str]  # the model's name, read when the run is charged
    input_chars: int
    run: RunResultStreaming | None = None
    completed: bool = False  # the run came to its end (set by whoever drives it)
    streamed_chars: int = 0  # all the text the run streamed
    _reported: int = 0  # model responses whose usage the provider reported
    _answering: bool = False  # the model began a response it has not reported yet
    _unreported_chars: int = 0  # text streamed since the last reported response

    def observe(self, event: ThreadStreamEvent) -> None:
        """Count one ChatKit event of the run (call it for every event)."""
        self._catch_up()
        if isinstance(event, ThreadItemUpdatedEvent) and isinstance(
            event.update, AssistantMessageContentPartTextDelta
        ):
            self.streamed_chars += len(event.update.delta)
            self._unreported_chars += len(event.update.delta)
        if isinstance(event, ThreadItemAddedEvent | ThreadItemUpdatedEvent):
            self._answering = True

    def _catch_up(self) -> None:
        requests = self._usage().requests if self.run is not None else 0
        if requests != self._reported:
            self._reported, self._answering, self._unreported_chars = requests, False, 0

    def _usage(self) -> Any:
        assert self.run is not None
        return self.run.context_wrapper.usage

    def charge(self) -> Charge | None:
        """The charge for what the run spent, or ``None`` if it never reached the model."""
        if self.run is None:
            return None
        self._catch_up()
        usage = self._usage()
        requests, input_tokens, output_tokens = (
            usage.requests,
            usage.input_tokens,
            usage.output_tokens,
        )
        in_flight = not self.completed and self._answering
        estimated = False
        if requests and not usage.total_tokens:
            # The provider reports no usage at all: estimate the responses that finished.
            finished_chars = self.streamed_chars - (self._unreported_chars if in_flight else 0)
            input_tokens = requests * estimate_tokens(self.input_chars)
            output_tokens = estimate_tokens(finished_chars)
            estimated = True
        if in_flight:
            # Ended in the middle of a response the provider will never report.
            requests += 1
            input_tokens += estimate_tokens(self.input_chars)
            output_tokens += estimate_tokens(self._unreported_chars)
            estimated = True
        if not requests:
            return None
        return Charge(self.provider, self.model(), requests, input_tokens, output_tokens, estimated)

    def cancel(self) -> None:
        """Stop the run (it stops calling the model, and spending)."""
        if self.run is not None and not self.run.is_complete:
            self.run.cancel()
