"""The thread list's filters: each one a plain, indexed column of the thread row (no joins).

None of them aggregates, and none lists every value of a large table: the owner filter shows
only the owner chosen (from an owner's link in the list); providers and models come from the
threads' own columns, read once a minute at most.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .. import models

STATES = (("active", _("open")), ("locked", _("locked")), ("closed", _("closed")))
CHOICES_TTL = 60  # seconds a provider or model list is reused


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return STATES

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in {key for key, _label in STATES}:
            return queryset
        # The same expression as the index chatkit_thread_state.
        queryset = queryset.alias(state=models.STATUS_TYPE)
        if value == "active":  # an empty status ({}) is open too
            return queryset.filter(Q(state__isnull=True) | Q(state="active"))
        return queryset.filter(state=value)


class FeedbackFilter(admin.SimpleListFilter):
    title = _("feedback")
    parameter_name = "feedback"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return (
            ("negative", _("has negative feedback")),
            ("positive", _("has positive feedback")),
            ("none", _("no feedback")),
        )

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "negative":
            return queryset.filter(has_negative_feedback=True)
        if value == "positive":
            return queryset.filter(has_positive_feedback=True)
        if value == "none":
            return queryset.filter(has_negative_feedback=False, has_positive_feedback=False)
        return queryset


class _ColumnFilter(admin.SimpleListFilter):
    """Exact match on a column of the admin's model; its values read distinct (at most 200),
    cached for a minute, instead of on every page as Django's ``AllValuesFieldListFilter``."""

    column = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        model = model_admin.model
        key = f"chatkit_backend.admin.{model._meta.model_name}.{self.column}"
        values = cache.get(key)
        if values is None:
            rows = model._default_manager.exclude(**{self.column: ""}).order_by(self.column)
            values = list(rows.values_list(self.column, flat=True).distinct()[:200])
            cache.set(key, values, CHOICES_TTL)
        current = self.value()
        if current and current not in values:
            values = [*values, current]
        return [(value, value) for value in values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.column: value}) if value else queryset


class ProviderFilter(_ColumnFilter):
    title = _("provider")
    parameter_name = "provider"
    column = "provider"


class ModelFilter(_ColumnFilter):
    title = _("model")
    parameter_name = "model"
    column = "model"


class ItemTypeFilter(admin.SimpleListFilter):
    """The item types ChatKit has: a fixed list, not a DISTINCT over a million items."""

    title = _("type")
    parameter_name = "type"
    TYPES = (
        "user_message",
        "assistant_message",
        "client_tool_call",
        "widget",
        "generated_image",
        "structured_input",
        "task",
        "workflow",
        "end_of_turn",
        "hidden_context_item",
        "sdk_hidden_context",
    )

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [(kind, kind) for kind in self.TYPES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(type=value) if value else queryset


class OwnerFilter(admin.SimpleListFilter):
    """One owner's threads: chosen from the owner links in the list (or ?owner=<id>)."""

    title = _("owner")
    parameter_name = "owner"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        value = self.value()
        if not value:
            return ()
        pk = _user_pk(value)
        user = get_user_model()._default_manager.filter(pk=pk).first() if pk else None
        return ((value, str(user) if user is not None else value),)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        pk = _user_pk(value)
        return queryset.filter(owner_id=pk) if pk is not None else queryset.none()


def _user_pk(value: str) -> Any:
    """``value`` as a primary key of the user model, or ``None`` if it cannot be one."""
    try:
        return get_user_model()._meta.pk.to_python(value)
    except ValidationError:
        return None
