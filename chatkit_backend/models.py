"""Threads, their items, attachment metadata and per-turn usage, stored through the ORM.

A thread item's JSON, exactly as the ChatKit SDK produced it, is the record of truth; the
other columns exist for ownership checks, ordering and keyset pagination, and the admin.
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


class Thread(OwnedModel):
    id = models.CharField(primary_key=True, max_length=64, editable=False)
    title = models.TextField(_("title"), null=True, blank=True)
    status = models.JSONField(_("status"), default=dict)
    metadata = models.JSONField(
        _("server-side metadata"),
        default=dict,
        blank=True,
        help_text=_("Never sent to the client."),
    )
    allowed_image_domains = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("last activity"))
    # The claim of the turn running in this thread, if any: its token, and when it lapses
    # unless renewed (a worker that dies mid-turn stops renewing it). See chatkit_backend.turns.
    turn_lease = models.CharField(max_length=32, blank=True, default="", editable=False)
    turn_lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        # Staff with it answer users in the admin and pause the agent (admin/operator.py).
        permissions = [("reply_thread", _("Can reply to a thread as an operator"))]
        indexes = [
            models.Index(fields=["owner", "created_at", "id"], name="chatkit_thread_owner_keyset"),
            models.Index(
                fields=["session_key", "created_at", "id"], name="chatkit_thread_anon_keyset"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=False) | ~Q(session_key=""),
                name="chatkit_thread_has_owner",
            )
        ]

    def __str__(self) -> str:
        return self.title or self.id

    @property
    def status_type(self) -> str:
        return (self.status or {}).get("type", "active")


class ThreadItem(models.Model):
    class Feedback(models.TextChoices):
        POSITIVE = "positive", _("positive")
        NEGATIVE = "negative", _("negative")

    seq = models.BigAutoField(primary_key=True)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="items")
    item_id = models.CharField(_("item id"), max_length=64)
    type = models.CharField(_("type"), max_length=32)
    created_at = models.DateTimeField(_("created"))
    data = models.JSONField(_("item JSON"))
    feedback = models.CharField(
        _("feedback"), max_length=16, choices=Feedback.choices, null=True, blank=True
    )
    feedback_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("thread item")
        verbose_name_plural = _("thread items")
        constraints = [
            models.UniqueConstraint(fields=["thread", "item_id"], name="chatkit_item_unique_id")
        ]
        indexes = [
            models.Index(fields=["thread", "created_at", "seq"], name="chatkit_item_keyset"),
            models.Index(
                fields=["feedback"],
                name="chatkit_item_feedback",
                condition=Q(feedback__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.item_id


class Attachment(OwnedModel):
    """Attachment metadata; the bytes live in Django storage."""

    id = models.CharField(primary_key=True, max_length=64, editable=False)
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    name = models.CharField(_("name"), max_length=255)
    mime_type = models.CharField(_("MIME type"), max_length=255)
    data = models.JSONField(_("attachment JSON"))
    file_name = models.CharField(
        _("stored file"),
        max_length=255,
        blank=True,
        default="",
        help_text=_("Name in the attachment storage; empty until the bytes arrive."),
    )
    size = models.PositiveBigIntegerField(_("size in bytes"), null=True, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=False) | ~Q(session_key=""),
                name="chatkit_attachment_has_owner",
            )
        ]

    def __str__(self) -> str:
        return self.name


class TurnUsage(OwnedModel):
    """Tokens one agent turn spent, as the Agents SDK reported them, or an estimate.

    It belongs to its owner and the day it was recorded; the thread is only a reference,
    NULL once the thread is deleted (even if that happened while the turn ran), so usage
    reports still count it. A turn that ended before the provider reported its usage (the
    client left, the thread was deleted, the provider failed) is charged an estimate, marked
    by ``estimated``.
    """

    thread = models.ForeignKey(
        Thread, on_delete=models.SET_NULL, null=True, blank=True, related_name="usage"
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


class Playground(Thread):
    """The admin's Playground (``chatkit_backend.console``): no table and no rows of its own.

    A proxy model only so the console has an entry in the admin index and a permission of its
    own, ``chatkit_backend.use_playground``. Holding it grants nothing on other people's
    threads: in the Playground, staff chat as themselves through ``chatkit/api``.
    """

    class Meta:
        proxy = True
        default_permissions = ()
        permissions = [("use_playground", _("Can chat with the agent in the admin Playground"))]
        verbose_name = _("playground")
        verbose_name_plural = _("playground")
