"""What owners spend: per-turn usage rows and the per-day counters budgets are checked against.

Synchronous ORM functions, run by the store inside its thread hops. The store writes the
per-turn ``TurnUsage`` rows itself (``store/turns.py``, as SQL).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from .. import models
from ..conf import conf
from ..context import Owner
from ..exceptions import TurnRefused

BUDGET_SPENT = "You have used today's allowance of the assistant. It renews at midnight."
BUDGET_WARNING = (
    "You have used {percent}% of today's allowance of the assistant. When it is used up, "
    "the assistant stops answering until midnight."
)


def budget_notice() -> str:
    """The warning a turn's stream carries past ``DAILY_TOKEN_BUDGET_WARNING``."""
    share = conf.DAILY_TOKEN_BUDGET_WARNING or 0
    return BUDGET_WARNING.format(percent=round(share * 100))


def counters(owner: Owner, address: str | None = None) -> list[dict[str, Any]]:
    """The ``DailyUsage`` rows a turn of ``owner`` is checked against, as field values.

    A user's or a session's own counter; for an anonymous visitor whose client ``address`` is
    known, that address's counter too, so a new session (one dropped cookie away) does not
    renew the budget.
    """
    found = [{**owner.as_fields(), "client_address": ""}]
    if address and owner.user_id is None:
        found.append({"owner_id": None, "session_key": "", "client_address": address})
    return found


def reserve(counters_: list[dict[str, Any]], budget: int, tokens: int) -> date:
    """Reserve ``tokens`` on each of today's ``counters_``, or raise ``TurnRefused``.

    For each counter one conditional UPDATE, atomic in the database whatever runs beside it:
    it succeeds only while what was spent and reserved today is below ``budget``. A refusal on
    any counter undoes the others. Returns the counters' day (settle on that day, even after
    midnight).
    """
    today = timezone.localdate()
    with transaction.atomic():  # a savepoint: the caller's transaction goes on
        for fields in counters_:
            if not _reserve_one(today, fields, budget, tokens):
                raise TurnRefused(BUDGET_SPENT, code="daily_budget_spent")
    return today


def _reserve_one(today: date, fields: dict[str, Any], budget: int, tokens: int) -> bool:
    counter = models.DailyUsage.objects.filter(day=today, **fields)
    with_room = counter.filter(spent__lt=Value(budget) - F("reserved"))
    if with_room.update(reserved=F("reserved") + tokens):
        return True
    if budget <= 0:
        return False
    try:
        with transaction.atomic():
            models.DailyUsage.objects.create(day=today, reserved=tokens, **fields)
        return True
    except IntegrityError:  # the counter exists (perhaps made just now by another turn)
        return bool(with_room.update(reserved=F("reserved") + tokens))


def claim_warning(counters_: list[dict[str, Any]], day: date, budget: int, share: float) -> bool:
    """Whether to warn the owner now: one of ``counters_`` has spent ``share`` of ``budget``
    on ``day``, and the owner (their own counter, the first) was not warned that day.

    One conditional UPDATE marks the owner warned, so of concurrent turns exactly one warns.
    """
    threshold = math.ceil(budget * share)
    if budget <= 0 or not any(
        models.DailyUsage.objects.filter(day=day, spent__gte=threshold, **fields).exists()
        for fields in counters_
    ):
        return False
    own = models.DailyUsage.objects.filter(day=day, budget_warned=False, **counters_[0])
    return bool(own.update(budget_warned=True))


def settle(counters_: list[dict[str, Any]], day: date, reserved: int, spent: int) -> None:
    """Replace a reservation made on ``day`` with what the turn spent, on each counter."""
    for fields in counters_:
        models.DailyUsage.objects.filter(day=day, **fields).update(
            # Never below zero, even if an operator cleared the reservations meanwhile.
            reserved=Greatest(F("reserved") - reserved, Value(0)),
            spent=F("spent") + spent,
        )
