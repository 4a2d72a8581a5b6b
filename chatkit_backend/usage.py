"""What owners spend: per-turn usage rows and the per-day counters budgets are checked against.

Synchronous ORM functions, run by the store inside its thread hops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from . import models
from .context import Owner
from .exceptions import TurnRefused

BUDGET_SPENT = "You have used today's allowance of the assistant. It renews at midnight."


def reserve(owner: Owner, budget: int, tokens: int) -> date:
    """Reserve ``tokens`` on ``owner``'s counter for today, or raise ``TurnRefused``.

    One conditional UPDATE, atomic in the database whatever runs beside it: it succeeds only
    while what was spent and reserved today is below ``budget``. Returns the counter's day
    (settle on that day, even after midnight).
    """
    today = timezone.localdate()
    counter = models.DailyUsage.objects.filter(day=today, **owner.as_filter())
    with_room = counter.filter(spent__lt=Value(budget) - F("reserved"))
    if with_room.update(reserved=F("reserved") + tokens):
        return today
    if budget > 0:
        try:
            with transaction.atomic():  # a savepoint: the caller's transaction goes on
                models.DailyUsage.objects.create(day=today, reserved=tokens, **owner.as_fields())
            return today
        except IntegrityError:  # the counter exists (perhaps made just now by another turn)
            if with_room.update(reserved=F("reserved") + tokens):
                return today
    raise TurnRefused(BUDGET_SPENT, code="daily_budget_spent")


def settle(owner: Owner, day: date, reserved: int, spent: int) -> None:
    """Replace a reservation made on ``day`` with what the turn spent."""
    models.DailyUsage.objects.filter(day=day, **owner.as_filter()).update(
        # Never below zero, even if an operator cleared the reservations meanwhile.
        reserved=Greatest(F("reserved") - reserved, Value(0)),
        spent=F("spent") + spent,
    )


def record(
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
                models.TurnUsage.objects.bulk_create(
                    models.TurnUsage(thread_id=reference, **owner.as_fields(), **fields)
                    for fields in rows
                )
                also()
            return
        except IntegrityError:
            if reference is None:
                raise
