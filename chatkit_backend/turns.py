"""A turn: one streaming request during which the agent answers in a thread.

Three promises hold for turns, across worker processes:

- **One turn per thread at a time.** A turn claims its thread with one conditional UPDATE of
  a lease on the thread row (``Thread.turn_lease`` / ``turn_lease_until``), renews the lease
  while it runs and releases it when it ends; a worker that dies mid-turn stops renewing, so
  its claim lapses on its own after ``TURN_LEASE_SECONDS``. A lease (rather than a database
  lock) holds no connection or transaction open while the model talks, and works the same on
  SQLite and PostgreSQL.
- **Budgets that cannot be escaped.** A turn reserves ``TURN_TOKEN_RESERVATION`` tokens on its
  owner's counter for the day before it starts, and settles the reservation to what it spent
  when it ends, however it ends (:class:`UsageMeter`).
- **A deleted thread stops its turn.** In the worker that deletes it at once (the
  ``post_delete`` signal reaches the running turn); in other workers when the turn next renews
  its lease or writes to the thread.

The database work is :class:`~chatkit_backend.store.DjangoStore`'s (``begin_turn``,
``renew_turn``, ``end_turn``); this module holds what lives in memory.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    ThreadItemAddedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)

if TYPE_CHECKING:
    from agents import RunResultStreaming

    from .context import Owner

logger = logging.getLogger(__name__)

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


@dataclass(eq=False)
class Turn:
    """One streaming request's hold on its thread and on its owner's budget."""

    owner: Owner
    thread_id: str | None  # None until threads.create has stored the new thread
    lease: str = field(default_factory=lambda: secrets.token_hex(16))
    day: date | None = None  # the budget day a reservation was made on
    reserved: int = 0
    meters: list[UsageMeter] = field(default_factory=list)
    stopped: str | None = None  # why the turn was stopped early ("deleted", "claim lost")
    loop: asyncio.AbstractEventLoop | None = None

    def meter(self, meter: UsageMeter) -> None:
        """Count ``meter``'s run in this turn (and stop it at once if the turn is stopped)."""
        self.loop = asyncio.get_running_loop()
        self.meters.append(meter)
        if self.stopped is not None:
            meter.cancel()

    def charges(self) -> list[Charge]:
        return [charge for meter in self.meters if (charge := meter.charge()) is not None]

    def stop(self, reason: str) -> None:
        """Stop the turn: its runs are cancelled and its stream ends quietly.

        Safe to call from any thread (a delete runs its signals on a worker thread).
        """
        if self.stopped is not None:
            return
        self.stopped = reason
        self._call_in_loop(self.cancel_runs)

    def cancel_runs(self) -> None:
        for meter in self.meters:
            meter.cancel()

    def _call_in_loop(self, callback: Callable[[], None]) -> None:
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or loop is running:
            callback()
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop is closed: nothing is running there any more
            pass


# -- the turns running in this process ---------------------------------------------------------

_running: weakref.WeakSet[Turn] = weakref.WeakSet()  # a request that never streamed drops out
_running_lock = threading.Lock()


def register(turn: Turn) -> None:
    with _running_lock:
        _running.add(turn)


def unregister(turn: Turn) -> None:
    with _running_lock:
        _running.discard(turn)


def stop_turns_in(thread_id: str, reason: str) -> None:
    """Stop this process's turns in ``thread_id`` (from any thread)."""
    with _running_lock:
        turns = [turn for turn in _running if turn.thread_id == thread_id]
    for turn in turns:
        turn.stop(reason)


def stop_turns_of_deleted_thread(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``post_delete`` receiver for threads: their turns stop once the delete is committed."""
    from django.db import transaction

    thread_id = instance.pk
    transaction.on_commit(lambda: stop_turns_in(thread_id, "deleted"), using=kwargs.get("using"))


async def keep_claim(turn: Turn, renew: Callable[[Turn], Awaitable[bool]], every: float) -> None:
    """Renew ``turn``'s lease every ``every`` seconds; stop the turn if it was lost.

    The lease is lost when the thread is gone (deleted by another worker) or when another turn
    took the thread after this one failed to renew in time.
    """
    while turn.stopped is None:
        await asyncio.sleep(every)
        try:
            held = await renew(turn)
        except Exception:  # a database hiccup: try again, the lease outlives two misses
            logger.warning("Could not renew the claim on thread %s", turn.thread_id, exc_info=True)
            continue
        if not held:
            turn.stop("claim lost")
