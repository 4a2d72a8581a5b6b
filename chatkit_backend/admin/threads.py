"""The thread admin: a list that stays fast at a million items, a readable transcript, and
actions (lock, unlock, close, reopen, delete, export) from the list and from the thread page.

The list reads only the thread row and its owner: item count, tokens, feedback and model are
columns the store keeps current (:mod:`chatkit_backend.store.counters`); no filter joins or
aggregates, and the result count is counted once (``show_full_result_count = False``).

Permissions: viewing needs ``view_thread``; the title and metadata ``change_thread``; lock,
unlock, close and reopen ``change_thread_status``; export ``export_thread``; delete
``delete_thread``; the operator's page (:mod:`.operator`) ``reply_thread``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .. import models
from . import status as statuses
from .export import EXPORT_PERMISSION, FORMATS, export_response
from .filters import FeedbackFilter, ModelFilter, OwnerFilter, ProviderFilter, StatusFilter
from .forms import ThreadActionForm, ThreadForm
from .operator import PERMISSION as REPLY_PERMISSION
from .operator import operator_link, operator_urls
from .pages import render_rows, transcript_rows
from .search import search_threads

# Plain words in colour: the admin's fonts may have no emoji.
FEEDBACK_STYLE = {"positive": "color:#060", "negative": "color:#a00;font-weight:bold"}


class ThreadAdmin(admin.ModelAdmin):
    form = ThreadForm
    action_form = ThreadActionForm
    change_form_template = "chatkit_backend/admin/thread_change_form.html"
    list_display = (
        "__str__",
        "owner_link",
        "status_label",
        "item_count",
        "tokens_spent",
        "feedback_mark",
        "model",
        "updated_at",
        "created_at",
    )
    list_select_related = ("owner",)
    list_filter = (
        StatusFilter,
        FeedbackFilter,
        ProviderFilter,
        ModelFilter,
        OwnerFilter,
        ("updated_at", admin.DateFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("title",)  # shows the box; get_search_results does the searching
    search_help_text = _("Title, owner, thread id, or words said in the thread.")
    ordering = ("-updated_at", "-id")
    show_full_result_count = False
    # Facet counts would count every filter choice on every page: not at a million items.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    actions = ("lock", "unlock", "close", "reopen", "export_markdown", "export_json")
    readonly_fields = (
        "operator",
        "id",
        "owner",
        "session_key",
        "status_label",
        "created_at",
        "updated_at",
        "item_count",
        "tokens_spent",
        "latest_feedback",
        "provider",
        "model",
        "transcript",
    )

    # -- permissions -----------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # threads start from a user's first message

    def has_change_status_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(statuses.STATUS_PERMISSION)

    def has_export_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    # -- the list --------------------------------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        return search_threads(queryset, search_term), False

    @admin.display(description=_("owner"), ordering="owner")
    def owner_link(self, obj: models.Thread) -> str:
        if obj.owner_id is None:
            return format_html("<span title='{}'>anonymous</span>", obj.session_key[:8])
        return format_html('<a href="?owner={}">{}</a>', obj.owner_id, str(obj.owner))

    @admin.display(description=_("status"))
    def status_label(self, obj: models.Thread) -> str:
        return statuses.describe_status(obj.status)

    @admin.display(description=_("feedback"), ordering="latest_feedback")
    def feedback_mark(self, obj: models.Thread) -> str:
        kinds = [
            kind
            for kind, flag in (
                ("negative", obj.has_negative_feedback),
                ("positive", obj.has_positive_feedback),
            )
            if flag
        ]
        if not kinds:
            return "—"
        return format_html_join(
            " ",
            '<span class="ck-feedback-{}" style="{}" title="latest: {}">{}</span>',
            ((kind, FEEDBACK_STYLE[kind], obj.latest_feedback, kind) for kind in kinds),
        )

    # -- the thread page -------------------------------------------------------------------

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["id", "title", "owner", "session_key"]
        if obj is not None and request.user.has_perm(REPLY_PERMISSION):
            fields.insert(0, "operator")  # the way to reply as a person, or pause the agent
        if self.has_change_status_permission(request) and self.has_change_permission(request):
            fields += ["state", "reason"]
        else:
            fields.append("status_label")
        fields += ["metadata", "created_at", "updated_at", "item_count", "tokens_spent"]
        return [*fields, "latest_feedback", "provider", "model", "transcript"]

    def save_model(self, request: HttpRequest, obj: models.Thread, form: Any, change: bool) -> None:
        # Only what the operator changed: a whole-row save would write back stale values a
        # running turn changed meanwhile (its title, its claim on the thread).
        editable = {field.name for field in obj._meta.concrete_fields}
        fields = [name for name in form.changed_data if name in editable]
        new_status = form.status_value() if self.has_change_status_permission(request) else None
        if new_status is not None and new_status != obj.status:
            obj.status = new_status
            fields.append("status")
        if fields:
            obj.save(update_fields=fields)
            statuses.announce(obj.pk, statuses.owner_context(obj), "thread")

    @admin.display(description=_("operator"))
    def operator(self, obj: models.Thread) -> str:
        return operator_link(obj)

    @admin.display(description=_("transcript"))
    def transcript(self, obj: models.Thread) -> str:
        rows, shown = transcript_rows(obj)
        return render_to_string(
            "chatkit_backend/admin/transcript.html",
            {"rows": render_rows(rows), "shown": shown, "total": obj.item_count},
        )

    # -- actions ---------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            *operator_urls(self),
            path("<path:object_id>/status/", wrap(self.status_view), name=f"{name}_status"),
            path(
                "<path:object_id>/export/<str:fmt>/",
                wrap(self.export_view),
                name=f"{name}_export",
            ),
            *super().get_urls(),
        ]

    def _change_status(self, request: HttpRequest, queryset: QuerySet[Any], name: str) -> None:
        reason = request.POST.get("reason", "")
        selected = queryset.count()
        changed = statuses.apply(request, queryset, name, reason)
        done = statuses.TRANSITIONS[name].done.lower()
        message = f"{len(changed)} of {selected} selected thread(s) {done}."
        if len(changed) < selected:
            message += " The others were not in a state this applies to."
        self.message_user(request, message, messages.SUCCESS if changed else messages.WARNING)

    @admin.action(description=_("Lock selected threads"), permissions=["change_status"])
    def lock(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._change_status(request, queryset, "lock")

    @admin.action(description=_("Unlock selected threads"), permissions=["change_status"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._change_status(request, queryset, "unlock")

    @admin.action(description=_("Close selected threads"), permissions=["change_status"])
    def close(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._change_status(request, queryset, "close")

    @admin.action(description=_("Reopen selected threads"), permissions=["change_status"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._change_status(request, queryset, "reopen")

    def _export(self, request: HttpRequest, queryset: QuerySet[Any], fmt: str) -> HttpResponse:
        threads = list(queryset.select_related(None).only("id", "title"))
        statuses.log(request, threads, f"Exported as {fmt}")
        return export_response(queryset.select_related("owner"), fmt, "threads")

    @admin.action(description=_("Export selected threads as Markdown"), permissions=["export"])
    def export_markdown(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse:
        return self._export(request, queryset, "markdown")

    @admin.action(description=_("Export selected threads as JSON"), permissions=["export"])
    def export_json(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse:
        return self._export(request, queryset, "json")

    def _thread(self, request: HttpRequest, object_id: str) -> QuerySet[Any]:
        threads = self.get_queryset(request).filter(pk=unquote(object_id))
        if not self.has_view_permission(request) or not threads.exists():
            raise Http404
        return threads

    def status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST ``action`` (lock, unlock, close, reopen) and ``reason`` from the thread page."""
        threads = self._thread(request, object_id)
        if request.method != "POST" or request.POST.get("action") not in statuses.TRANSITIONS:
            return HttpResponse(status=405 if request.method != "POST" else 400)
        if not self.has_change_status_permission(request):
            raise PermissionDenied
        self._change_status(request, threads, request.POST["action"])
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[quote(threads[0].pk)],
            current_app=self.admin_site.name,
        )
        return HttpResponseRedirect(url)

    def export_view(self, request: HttpRequest, object_id: str, fmt: str) -> HttpResponse:
        threads = self._thread(request, object_id)
        if fmt not in FORMATS:
            raise Http404
        if not self.has_export_permission(request):
            raise PermissionDenied
        thread = threads.get()
        statuses.log(request, [thread], f"Exported as {fmt}")
        return export_response(threads.select_related("owner"), fmt, thread.pk)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        obj = kwargs.get("obj") or context.get("original")
        context.update(
            can_change_status=self.has_change_status_permission(request),
            can_export=self.has_export_permission(request),
            transitions=[
                t
                for t in statuses.TRANSITIONS.values()
                if obj is not None and obj.status_type in t.applies_to
            ],
        )
        return super().render_change_form(request, context, *args, **kwargs)
