"""Threads, their items, attachment metadata and per-turn usage, stored through the ORM.

A thread item's JSON, exactly as the ChatKit SDK produced it, is the record of truth; the
other columns exist for ownership checks, ordering and keyset pagination, and the admin.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .expressions import StatusType

# Usage rows (and the owner fields every owned row has) live in usage_models.py, re-exported
# here: chatkit_backend.models stays the one place to import models from.
from .usage_models import DailyUsage, OwnedModel, TurnUsage

# A thread's status type as text ("active", "locked", "closed"; NULL for an empty status), the
# expression of the index chatkit_thread_state: filter on exactly this to use the index.
STATUS_TYPE = StatusType()

__all__ = [
    "Attachment",
    "DailyUsage",
    "OwnedModel",
    "Playground",
    "RatedItem",
    "Thread",
    "ThreadItem",
    "TurnUsage",
    "UsageDashboard",
]


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
    # Denormalised for the admin's thread list, which must not aggregate per page. The store
    # keeps them current in writes it makes anyway: a turn's release of the thread recounts
    # items and feedback and adds what the turn spent (see store/counters.py); a write outside
    # a turn (a feedback, a delete, server code adding an item) refreshes them at once.
    item_count = models.PositiveIntegerField(_("items"), default=0, editable=False)
    tokens_spent = models.PositiveBigIntegerField(_("tokens spent"), default=0, editable=False)
    latest_feedback = models.CharField(
        _("latest feedback"), max_length=16, null=True, blank=True, editable=False
    )
    has_positive_feedback = models.BooleanField(default=False, editable=False)
    has_negative_feedback = models.BooleanField(default=False, editable=False)
    provider = models.CharField(
        _("provider"),
        max_length=32,
        blank=True,
        default="",
        editable=False,
        help_text=_("The provider of the thread's latest turn."),
    )
    model = models.CharField(
        _("model"),
        max_length=128,
        blank=True,
        default="",
        editable=False,
        help_text=_("The model of the thread's latest turn."),
    )

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        permissions = [
            ("export_thread", _("Can export threads as Markdown or JSON")),
            ("change_thread_status", _("Can lock, unlock, close and reopen threads")),
            # Staff with it answer users in the admin and pause the agent (admin/operator.py).
            ("reply_thread", _("Can reply to a thread as an operator")),
        ]
        indexes = [
            models.Index(fields=["owner", "created_at", "id"], name="chatkit_thread_owner_keyset"),
            models.Index(
                fields=["session_key", "created_at", "id"], name="chatkit_thread_anon_keyset"
            ),
            # The admin's thread list: newest activity first, filtered by status or model.
            models.Index(fields=["updated_at", "id"], name="chatkit_thread_activity"),
            models.Index(STATUS_TYPE, "updated_at", name="chatkit_thread_state"),
            models.Index(fields=["model", "updated_at"], name="chatkit_thread_model"),
            # Small (rated threads only): the feedback filters' page and count read just these.
            models.Index(
                fields=["updated_at", "id"],
                name="chatkit_thread_negative",
                condition=Q(has_negative_feedback=True),
            ),
            models.Index(
                fields=["updated_at", "id"],
                name="chatkit_thread_positive",
                condition=Q(has_positive_feedback=True),
            ),
            models.Index(fields=["provider", "updated_at"], name="chatkit_thread_provider"),
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
    # The item's searchable text (user and assistant message text), written by the same
    # statement as the item. PostgreSQL indexes it for full-text search (a GIN index on its
    # tsvector, made by migration 0006); SQLite searches it by case-insensitive containment.
    text = models.TextField(_("message text"), blank=True, default="", editable=False)

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
            # The admin's feedback review, newest ratings first.
            models.Index(
                fields=["feedback_at"],
                name="chatkit_item_rated",
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


class RatedItem(ThreadItem):
    """The admin's Feedback review (``chatkit_backend.admin.feedback``): rated assistant
    messages. A proxy with no table and no permissions of its own: ``view_threaditem`` opens it.
    """

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")


class UsageDashboard(TurnUsage):
    """The admin's usage dashboard (``chatkit_backend.admin.dashboard``): charts of what turns
    spent. A proxy with no table and no permissions of its own: ``view_turnusage`` opens it.
    """

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("usage dashboard")
        verbose_name_plural = _("usage dashboard")
