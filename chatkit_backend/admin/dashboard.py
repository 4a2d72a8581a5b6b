"""The admin's usage dashboard: what turns spent, per day and model, who spent most, and how
today's spending stands against ``DAILY_TOKEN_BUDGET``.

An entry of the admin index (the ``UsageDashboard`` proxy, opened with ``view_turnusage``)
whose list page is the dashboard. Three grouped queries over ``TurnUsage`` for the period
(its ``created_at`` index bounds them) and one over today's ``DailyUsage``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import models
from ..conf import conf
from .charts import Series, horizontal_bars, stacked_bars
from .entries import PageEntry

VIEW_PERMISSION = "chatkit_backend.view_turnusage"
PERIODS = (7, 30, 90)
TOP_USERS = 10


def period_days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 30
    return days if days in PERIODS else 30


def owner_label(owner: Any, session_key: str, client_address: str) -> str:
    if owner is not None:
        return str(owner)
    if session_key:
        return f"anonymous session {session_key[:8]}…"
    return f"anonymous address {client_address}"


def since(start: date) -> dict[str, Any]:
    """A filter from the start of ``start`` (local time), on the created_at index."""
    return {"created_at__gte": timezone.make_aware(datetime.combine(start, time.min))}


def daily_by_model(start: date, days: list[date]) -> tuple[list[Series], list[Series]]:
    """(turns per day by model, tokens per day by model)."""
    rows = (
        models.TurnUsage.objects.filter(**since(start))
        .annotate(day=TruncDate("created_at"))
        .values("day", "model")
        .annotate(turns=Count("pk"), tokens=Sum("total_tokens"))
        .order_by()
    )
    turns: dict[str, dict[date, int]] = defaultdict(dict)
    tokens: dict[str, dict[date, int]] = defaultdict(dict)
    for row in rows:
        turns[row["model"]][row["day"]] = row["turns"]
        tokens[row["model"]][row["day"]] = row["tokens"] or 0
    names = sorted(tokens, key=lambda name: -sum(tokens[name].values()))
    return (
        [Series(name, turns[name]) for name in names],
        [Series(name, tokens[name]) for name in names],
    )


def top_users(start: date) -> list[tuple[str, int]]:
    rows = (
        models.TurnUsage.objects.filter(**since(start))
        .values("owner", "session_key", "client_address")
        .annotate(tokens=Sum("total_tokens"))
        .order_by("-tokens")[:TOP_USERS]
    )
    users = models.TurnUsage._meta.get_field("owner").related_model._default_manager.in_bulk(
        [row["owner"] for row in rows if row["owner"] is not None]
    )
    return [
        (
            owner_label(users.get(row["owner"]), row["session_key"], row["client_address"]),
            row["tokens"] or 0,
        )
        for row in rows
    ]


def budget_today() -> dict[str, Any]:
    budget = conf.DAILY_TOKEN_BUDGET
    today = timezone.localdate()
    counters = models.DailyUsage.objects.filter(day=today).select_related("owner")
    rows = list(counters.order_by("-spent")[:TOP_USERS])
    summary = counters.aggregate(owners=Count("pk"), spent=Sum("spent"), reserved=Sum("reserved"))
    over = counters.filter(spent__gte=budget).count() if budget else 0
    chart = horizontal_bars(
        _("Today's use per owner"),
        "tokens",
        [(owner_label(r.owner, r.session_key, r.client_address), r.spent) for r in rows],
        limit=budget,
    )
    return {"budget": budget, "day": today, "over": over, "chart": chart, **summary}


class UsageDashboardAdmin(PageEntry):
    """Staff with ``view_turnusage`` (and superusers) see the dashboard."""

    permission = VIEW_PERMISSION
    template = "chatkit_backend/admin/dashboard.html"
    title = _("Usage dashboard")

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        days = period_days(request)
        today = timezone.localdate()
        start = today - timedelta(days=days - 1)
        dates = [start + timedelta(days=n) for n in range(days)]
        turns, tokens = daily_by_model(start, dates)
        return {
            "days": days,
            "periods": PERIODS,
            "tokens_chart": stacked_bars(_("Tokens per day by model"), "tokens", dates, tokens),
            "turns_chart": stacked_bars(_("Turns per day by model"), "turns", dates, turns),
            "users_chart": horizontal_bars(
                _("Top users by tokens, last %(days)d days") % {"days": days},
                "tokens",
                top_users(start),
            ),
            "budget": budget_today(),
        }
