"""A turn's hold on its thread (a lease on the thread row), its budget reservation and its
runs; and the turns running in this process, so a delete can stop them.

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
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ..conf import conf
from .meter import Charge, UsageMeter

if TYPE_CHECKING:
    from ..context import Owner

logger = logging.getLogger(__name__)


def lease_end() -> datetime:
    """When a claim taken or renewed now lapses, unless renewed again."""
    return timezone.now() + timedelta(seconds=conf.TURN_LEASE_SECONDS)


@dataclass
class PendingWrites:
    """What a turn wrote that is kept in memory until one thread hop stores it all.

    From the moment the agent starts answering (``answering``), the turn's items and its
    thread's changes (title, metadata) wait for the end of the turn, which stores them with
    its usage in the same hop, before the stream's last byte. threads.create's new thread
    (``new_thread``) waits for the turn's next write, the user's message, and is stored with
    it. See :class:`~chatkit_backend.store.DjangoStore`.
    """

    answering: bool = False
    new_thread: Any = None  # ThreadMetadata
    thread: Any = None  # ThreadMetadata to save when the turn ends
    # item id -> (the item, its JSON as it was when written): the last write of an id wins.
    items: dict[str, tuple[Any, dict[str, Any]]] = field(default_factory=dict)


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
    # The owner passed DAILY_TOKEN_BUDGET_WARNING of their budget and has not been told today:
    # this turn's stream tells them (see usage.claim_warning).
    warn_budget: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    pending: PendingWrites = field(default_factory=PendingWrites)

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
