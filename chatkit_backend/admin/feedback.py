"""The admin's Feedback review: rated assistant messages, each with the question it answered.

A read-only list on the ``RatedItem`` proxy, opened with ``view_threaditem``. The user message
before each answer comes from one correlated subquery on the items' text column (the keyset
index finds it), not a query per row; filters are the rating and when it was given.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from .. import models
from .entries import RestrictedEntry

VIEW_PERMISSION = "chatkit_backend.view_threaditem"
STYLES = {"positive": "color:#060", "negative": "color:#a00;font-weight:bold"}


class FeedbackAdmin(RestrictedEntry):
    permission = VIEW_PERMISSION
    list_display = ("rating", "question", "answer", "thread_link", "owner", "feedback_at")
    list_display_links = None
    list_filter = ("feedback", ("feedback_at", admin.DateFieldListFilter))
    list_select_related = ("thread", "thread__owner")
    ordering = ("-feedback_at", "-seq")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    actions = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        before = models.ThreadItem.objects.filter(
            thread_id=OuterRef("thread_id"),
            type="user_message",
            created_at__lte=OuterRef("created_at"),
        ).order_by("-created_at", "-seq")
        return (
            super()
            .get_queryset(request)
            .filter(feedback__isnull=False, type="assistant_message")
            .annotate(question_text=Subquery(before.values("text")[:1]))
        )

    @admin.display(description=_("rating"), ordering="feedback")
    def rating(self, obj: models.ThreadItem) -> str:
        kind = obj.feedback or ""
        return format_html('<span style="{}">{}</span>', STYLES.get(kind, ""), kind)

    @admin.display(description=_("user message before it"))
    def question(self, obj: models.ThreadItem) -> str:
        return Truncator(obj.question_text or "—").chars(200)  # type: ignore[attr-defined]

    @admin.display(description=_("rated answer"))
    def answer(self, obj: models.ThreadItem) -> str:
        return Truncator(obj.text or "—").chars(160)

    @admin.display(description=_("thread"))
    def thread_link(self, obj: models.ThreadItem) -> str:
        url = reverse("admin:chatkit_backend_thread_change", args=[quote(obj.thread_id)])
        return format_html('<a href="{}">{}</a>', url, str(obj.thread))

    @admin.display(description=_("owner"))
    def owner(self, obj: models.ThreadItem) -> str:
        return str(obj.thread.owner) if obj.thread.owner_id else "anonymous"
