"""Admin entries that change nothing and that only the holders of one permission see.

:class:`RestrictedEntry` is a read-only list (the feedback review); :class:`PageEntry` hangs
a page of its own off a proxy model (the usage dashboard, the Playground), so that it is
listed in the admin index and the sidebar of any ``AdminSite``, next to the app's other
entries, for exactly the users who may open it; a custom ``AdminSite`` subclass would force
every project to swap its admin site. The entry's changelist *is* the page; the add, change,
delete and history views are not routed at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path


class RestrictedEntry(admin.ModelAdmin):
    """Seen by staff holding :attr:`permission` (and superusers); adds, changes, deletes
    nothing."""

    permission: str = ""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(self.permission)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PageEntry(RestrictedEntry):
    """An entry that is one page: its changelist renders :attr:`template` with the admin's
    context, :attr:`title` and :meth:`page_context`."""

    template: str = ""
    title: Any = ""

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        """What the page shows (only called for users with the permission)."""
        return {}

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.changelist_view)
        return [path("", view, name="{}_{}_changelist".format(*info))]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": self.title,
            "subtitle": None,
            **self.page_context(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.template, context)
