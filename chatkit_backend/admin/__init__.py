"""The Django admin for ChatKit: threads (with their transcript), items, attachments, usage,
and the protocol console's Playground (:mod:`chatkit_backend.console.admin`)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from .. import models
from ..console.admin import PlaygroundAdmin
from .operator import operator_link, operator_urls
from .transcript import TranscriptLine, describe

TRANSCRIPT_LIMIT = 500


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ("__str__", "owner", "item_count", "status_type", "updated_at", "created_at")
    list_select_related = ("owner",)
    list_filter = ("created_at", "updated_at")
    date_hierarchy = "updated_at"
    ordering = ("-updated_at",)
    readonly_fields = (
        "id",
        "owner",
        "session_key",
        "created_at",
        "updated_at",
        "transcript",
        "operator",
    )
    fields = (
        "operator",
        "id",
        "title",
        "owner",
        "session_key",
        "status",
        "metadata",
        "created_at",
        "updated_at",
        "transcript",
    )

    # The operator's page (admin/operator.py): reply as a person, pause the agent.
    @admin.display(description=_("operator"))
    def operator(self, obj: models.Thread) -> str:
        return operator_link(obj)

    def get_urls(self) -> list[Any]:
        return operator_urls(self) + super().get_urls()

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        username = get_user_model().USERNAME_FIELD
        return ("title", "id", f"owner__{username}", "owner__email")

    def get_queryset(self, request: HttpRequest) -> QuerySet[models.Thread]:
        return super().get_queryset(request).annotate(item_count=Count("items"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # threads start from a user's first message

    def save_model(self, request: HttpRequest, obj: models.Thread, form: Any, change: bool) -> None:
        # Only what the operator changed: a whole-row save would write back stale values a
        # running turn changed meanwhile (its title, its claim on the thread).
        editable = {field.name for field in obj._meta.concrete_fields}
        obj.save(update_fields=[name for name in form.changed_data if name in editable])

    @admin.display(description=_("items"), ordering="item_count")
    def item_count(self, obj: models.Thread) -> int:
        return obj.item_count  # type: ignore[attr-defined]

    @admin.display(description=_("status"))
    def status_type(self, obj: models.Thread) -> str:
        return obj.status_type

    @admin.display(description=_("transcript"))
    def transcript(self, obj: models.Thread) -> str:
        rows = obj.items.order_by("-created_at", "-seq")[:TRANSCRIPT_LIMIT]
        lines = []
        for row in reversed(list(rows)):
            speaker, text, hidden = describe(row.data)
            lines.append(
                TranscriptLine(speaker, row.type, text, row.created_at, row.feedback, hidden)
            )
        total = obj.items.count()
        return render_to_string(
            "chatkit_backend/admin/transcript.html",
            {"lines": lines, "truncated": total > TRANSCRIPT_LIMIT, "total": total},
        )


@admin.register(models.ThreadItem)
class ThreadItemAdmin(ReadOnlyAdmin):
    list_display = ("item_id", "thread", "type", "feedback", "created_at")
    list_filter = ("type", "feedback")
    search_fields = ("item_id", "thread__id", "thread__title")
    list_select_related = ("thread",)
    raw_id_fields = ("thread",)


@admin.register(models.Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("name", "mime_type", "owner", "thread", "created_at")
    search_fields = ("id", "name")
    list_select_related = ("owner", "thread")


@admin.register(models.TurnUsage)
class TurnUsageAdmin(ReadOnlyAdmin):
    list_display = (
        "thread",
        "owner",
        "provider",
        "model",
        "input_tokens",
        "output_tokens",
        "estimated",
        "created_at",
    )
    list_filter = ("provider", "model", "estimated")
    list_select_related = ("thread", "owner")


@admin.register(models.DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ("day", "owner", "session_key", "client_address", "spent", "reserved")
    list_filter = ("day",)
    list_select_related = ("owner",)
    date_hierarchy = "day"


# The protocol console, for staff with chatkit_backend.use_playground (see console/admin.py).
admin.site.register(models.Playground, PlaygroundAdmin)
