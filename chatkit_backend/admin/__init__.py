"""The Django admin for ChatKit: threads (:mod:`.threads`: list, transcript, actions), items,
attachments, usage, and the protocol console's Playground
(:mod:`.playground`)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .. import models
from .dashboard import UsageDashboardAdmin
from .feedback import FeedbackAdmin
from .filters import ItemTypeFilter, ModelFilter, ProviderFilter
from .playground import PlaygroundAdmin
from .threads import ThreadAdmin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


admin.site.register(models.Thread, ThreadAdmin)


@admin.register(models.ThreadItem)
class ThreadItemAdmin(ReadOnlyAdmin):
    list_display = ("item_id", "thread", "type", "feedback", "created_at")
    list_filter = (ItemTypeFilter, "feedback")
    search_fields = ("item_id", "thread__id", "thread__title")
    ordering = ("-seq",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
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
    list_filter = (ProviderFilter, ModelFilter, "estimated")
    list_select_related = ("thread", "owner")
    ordering = ("-created_at", "-pk")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


@admin.register(models.DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ("day", "owner", "session_key", "client_address", "spent", "reserved")
    list_filter = ("day",)
    list_select_related = ("owner",)
    date_hierarchy = "day"


# The protocol console, for staff with chatkit_backend.use_playground (see admin/playground.py).
admin.site.register(models.Playground, PlaygroundAdmin)
# Feedback review and the usage dashboard: read-only pages on proxies (feedback.py, dashboard.py).
admin.site.register(models.RatedItem, FeedbackAdmin)
admin.site.register(models.UsageDashboard, UsageDashboardAdmin)
