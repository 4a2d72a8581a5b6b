"""Turns in the database: the claim on a thread, the budget reservation, what a turn spent."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chatkit.store import NotFoundError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import models
from ..conf import conf
from ..connections import database_hop
from ..context import Owner, RequestContext
from ..exceptions import TurnInProgress
from ..intake.clients import address_key
from ..turns import Turn, lease_end, register, unregister, usage
from . import sql
from .base import ScopedStore
from .counters import add_tokens, usage_values
from .memo import memo_of, remember


def _budget_address(context: RequestContext) -> str | None:
    """An anonymous visitor's address, as budgets count it (a new session is one dropped
    cookie away); ``None`` for users, who are counted per user."""
    if context.owner.user_id is not None or not context.client_address:
        return None
    return address_key(context.client_address)


def _budget_counters(context: RequestContext) -> list[dict[str, Any]]:
    """The daily counters a turn of ``context`` is checked against (see ``usage.counters``)."""
    return usage.counters(context.owner, _budget_address(context))


def _release(turn: Turn, ran: bool, charged: list[dict[str, Any]]) -> None:
    """Release the turn's claim on its thread (if it still holds it), mark the activity, and
    bring the thread's denormalised columns up to date: one UPDATE (``sql.release``)."""
    assert turn.thread_id is not None
    spent = None
    if ran and charged:
        latest = usage_values(charged)
        tokens = sum(int(row.get("total_tokens") or 0) for row in charged)
        spent = {"tokens": tokens, "provider": latest["provider"], "model": latest["model"]}
    sql.release(turn.thread_id, turn.lease, activity=timezone.now() if ran else None, spent=spent)


def record_usage_rows(
    owner: Owner,
    thread_id: str | None,
    rows: Iterable[dict[str, Any]],
    also: Callable[[], None] = lambda: None,
) -> None:
    """Store ``rows`` (``TurnUsage`` field values) for ``owner``, and run ``also`` in the same
    transaction.

    Usage outlives its thread: if the thread was deleted meanwhile (the foreign key fails when
    the transaction commits), the rows are stored without it.
    """
    rows = list(rows)
    for reference in (thread_id, None) if thread_id else (None,):
        try:
            with transaction.atomic():
                if rows:
                    owned = {"thread_id": reference, **owner.as_fields()}
                    sql.insert_usage([{**owned, **fields} for fields in rows])
                also()
            return
        except IntegrityError:
            if reference is None:
                raise


class TurnsMixin(ScopedStore):
    async def record_usage(
        self, thread_id: str | None, context: RequestContext, **fields: Any
    ) -> None:
        """Keep one run's token usage (``TurnUsage`` fields), owned like the thread.

        Usage outlives its thread: if the thread is gone, the row is kept without it.
        """
        fields = {**fields, "client_address": _budget_address(context) or ""}
        rows = [fields]
        await database_hop(record_usage_rows)(
            context.owner, thread_id, rows, lambda: add_tokens(thread_id, rows)
        )

    async def begin_turn(
        self,
        thread_id: str | None,
        context: RequestContext,
        *,
        budget: int | None = None,
        reservation: int = 0,
    ) -> Turn:
        """Start a turn: claim ``thread_id`` (``None`` for threads.create, whose new thread is
        claimed when stored) and reserve ``reservation`` tokens against ``budget``.

        One thread hop. Raises ``NotFoundError``, ``TurnInProgress`` (another turn holds the
        thread) or ``TurnRefused`` (the budget is spent), having changed nothing.
        """
        return await database_hop(self.claim_turn)(
            thread_id, context, budget=budget, reservation=reservation
        )

    def claim_turn(
        self,
        thread_id: str | None,
        context: RequestContext,
        *,
        budget: int | None = None,
        reservation: int = 0,
    ) -> Turn:
        """:meth:`begin_turn`, synchronously: for a request's first hop, which does more."""
        turn = Turn(owner=context.owner, thread_id=thread_id)
        self._begin_turn(turn, context, budget, reservation)
        context.turn = turn
        register(turn)
        return turn

    def _begin_turn(
        self, turn: Turn, context: RequestContext, budget: int | None, reservation: int
    ) -> None:
        with transaction.atomic():  # a refused reservation undoes the claim
            if turn.thread_id is not None:
                self._claim(turn, context)
            if budget is not None:
                counters = _budget_counters(context)
                turn.day = usage.reserve(counters, budget, reservation)
                turn.reserved = reservation
                share = conf.DAILY_TOKEN_BUDGET_WARNING
                if share is not None:
                    turn.warn_budget = usage.claim_warning(counters, turn.day, budget, share)

    def _claim(self, turn: Turn, context: RequestContext) -> None:
        # The access policy decides whether the caller may write the thread; then the claim,
        # in the same transaction (on SQLite it holds the write lock from its start).
        row = self._threads(context, write=True).filter(id=turn.thread_id).first()
        if row is None:
            raise NotFoundError(f"Thread {turn.thread_id} not found")
        if not sql.claim(row.id, turn.lease, lease_end()):
            if not models.Thread.objects.filter(id=row.id).exists():  # deleted meanwhile
                raise NotFoundError(f"Thread {turn.thread_id} not found")
            raise TurnInProgress(
                "The assistant is still answering in this thread. Try again when it is done."
            )
        remember(context, row)
        memo_of(context).writable.add(row.id)

    async def renew_turn(self, turn: Turn) -> bool:
        """Extend the turn's claim; False if it no longer holds it (the thread is gone)."""
        if turn.thread_id is None:
            return True

        def renew() -> bool:
            rows = models.Thread.objects.filter(id=turn.thread_id, turn_lease=turn.lease)
            return bool(rows.update(turn_lease_until=lease_end()))

        return await database_hop(renew)()

    async def end_turn(self, turn: Turn, context: RequestContext, *, ran: bool = True) -> None:
        """End a turn: store what it held, record what it spent, settle its reservation,
        release its thread.

        One thread hop. ``ran=False`` for a turn refused before it streamed: nothing was spent
        and the thread's last activity stays as it was.
        """
        unregister(turn)
        turn.cancel_runs()  # whatever still runs stops spending now
        charges = turn.charges()

        def release_and_settle() -> None:
            if turn.thread_id is not None:
                _release(turn, ran, rows)
            if turn.day is not None:
                spent = sum(charge.total_tokens for charge in charges)
                usage.settle(_budget_counters(context), turn.day, turn.reserved, spent)

        address = {"client_address": _budget_address(context) or ""}
        rows = [{**charge.fields(), **address} for charge in charges]

        def store_and_release() -> None:
            self.write_held(turn, context)
            release_and_settle()

        def store_and_settle() -> None:
            # One hop, one transaction: what the turn held (answer, title), its usage, the
            # thread's release. (If the thread was deleted meanwhile, the usage is kept without
            # it and the held items are dropped.)
            self.write_new_thread(context)  # threads.create's thread, if nothing stored it
            thread_id = None if turn.stopped == "deleted" else turn.thread_id
            record_usage_rows(context.owner, thread_id, rows, store_and_release)

        await database_hop(store_and_settle)()
