"""Owned rows (a user's or an anonymous session's), and what owners spend: per-turn usage and
the daily counters budgets are checked against. Re-exported by :mod:`chatkit_backend.models`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class OwnedModel(models.Model):
    """A row that belongs to a user or, when anonymous access is enabled, to a session."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    session_key = models.CharField(
        _("anonymous session"), max_length=64, blank=True, default="", db_index=True
    )

    class Meta:
        abstract = True


class TurnUsage(OwnedModel):
    """Tokens one agent turn spent, as the Agents SDK reported them, or an estimate.

    It belongs to its owner and the day it was recorded; the thread is only a reference,
    NULL once the thread is deleted (even if that happened while the turn ran), so usage
    reports still count it. A turn that ended before the provider reported its usage (the
    client left, the thread was deleted, the provider failed) is charged an estimate, marked
    by ``estimated``.
    """

    thread = models.ForeignKey(
        "chatkit_backend.Thread",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="usage",
    )
    provider = models.CharField(_("provider"), max_length=32)
    model = models.CharField(_("model"), max_length=128, blank=True)
    requests = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    total_tokens = models.PositiveBigIntegerField(default=0)
    client_address = models.CharField(
        _("client address"),
        max_length=64,
        blank=True,
        default="",
        help_text=_(
            "Anonymous visitors only: their IP address (an IPv6 /64), which their daily "
            "budget counts by as well as by session."
        ),
    )
    estimated = models.BooleanField(
        _("estimated"),
        default=False,
        help_text=_("The turn ended early: tokens estimated from the text sent and streamed."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("turn usage")
        verbose_name_plural = _("turn usage")
        indexes = [
            models.Index(fields=["owner", "created_at"], name="chatkit_usage_owner_day"),
            models.Index(fields=["session_key", "created_at"], name="chatkit_usage_anon_day"),
            models.Index(
                fields=["client_address", "created_at"],
                name="chatkit_usage_address_day",
                condition=~Q(client_address=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.thread_id}: {self.total_tokens} tokens"


class DailyUsage(OwnedModel):
    """One owner's tokens on one day: what ``DAILY_TOKEN_BUDGET`` is checked against.

    An anonymous visitor's turns count on two counters, their session's and their client
    address's (a row with only ``client_address``), so dropping the session cookie does not
    renew the budget.

    A turn reserves tokens here before it starts, with one conditional UPDATE that succeeds
    only while ``spent + reserved`` is below the budget, and settles the reservation to what it
    spent (``TurnUsage``) when it ends. Concurrent turns thus overshoot the budget by at most
    one reservation. Kept only while a budget is configured.
    """

    client_address = models.CharField(
        _("client address"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("Set on the counter of an anonymous client address (an IPv6 /64)."),
    )
    day = models.DateField(_("day"))
    spent = models.PositiveBigIntegerField(_("tokens spent"), default=0)
    reserved = models.PositiveBigIntegerField(
        _("tokens reserved"),
        default=0,
        help_text=_("Held by turns still running (or by workers that died mid-turn)."),
    )
    budget_warned = models.BooleanField(
        _("warned"),
        default=False,
        help_text=_("The owner was told that day that their budget is running low."),
    )

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "day"],
                condition=Q(owner__isnull=False),
                name="chatkit_daily_usage_owner",
            ),
            models.UniqueConstraint(
                fields=["session_key", "day"],
                condition=Q(owner__isnull=True) & ~Q(session_key=""),
                name="chatkit_daily_usage_session",
            ),
            models.UniqueConstraint(
                fields=["client_address", "day"],
                condition=Q(owner__isnull=True, session_key="") & ~Q(client_address=""),
                name="chatkit_daily_usage_address",
            ),
            models.CheckConstraint(
                condition=Q(owner__isnull=False) | ~Q(session_key="") | ~Q(client_address=""),
                name="chatkit_daily_usage_has_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.spent} spent, {self.reserved} reserved"
