"""The operator: a person who answers a user in the admin, and may pause the agent.

Staff with the permission ``chatkit_backend.reply_thread`` get a page per thread (linked from
the thread's admin page) with the transcript, a reply box and a pause switch.

- A reply is stored as an assistant message, marked in the item's stored JSON as coming from
  a person (:data:`OPERATOR_KEY`, shown so in the transcript); the user's open pages show it
  at once (the live socket's notice).
- A paused thread is not answered by the agent: the user's messages are stored (and shown
  here), and their stream ends with a notice that a person will answer
  (:mod:`chatkit_backend.live.progress`). The pause lives in the thread's server-side
  metadata, which never reaches the client.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from chatkit.types import AssistantMessageItem
from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from .. import models
from ..conf import conf
from ..live.credentials import OPERATOR_PERMISSION
from ..live.progress import PAUSED_KEY
from ..store import DjangoStore
from ..threads import append_assistant_message, owner_context
from .transcript import OPERATOR_KEY

PERMISSION = OPERATOR_PERMISSION


def operator_name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "operator"


async def reply(thread_id: str, text: str, operator: str) -> AssistantMessageItem:
    """Store ``text`` as an assistant message from the person ``operator`` (and notify)."""
    item = await append_assistant_message(thread_id, text)

    def mark() -> None:
        row = models.ThreadItem.objects.filter(thread_id=thread_id, item_id=item.id)
        data = row.values_list("data", flat=True).first()
        if data is not None:
            row.update(data={**data, OPERATOR_KEY: {"name": operator}})

    await sync_to_async(mark)()
    return item


async def set_paused(thread_id: str, operator: str | None) -> None:
    """Pause the agent in ``thread_id`` (``operator`` names who did), or resume it (None)."""
    context = await sync_to_async(owner_context)(thread_id)
    store = DjangoStore()
    thread = await store.load_thread(thread_id, context)
    metadata = dict(thread.metadata or {})
    if operator is None:
        metadata.pop(PAUSED_KEY, None)
    else:
        metadata[PAUSED_KEY] = {"by": operator, "at": timezone.now().isoformat()}
    thread.metadata = metadata
    await store.save_thread(thread, context)


def _act(request: HttpRequest, thread: models.Thread) -> HttpResponse:
    action, name = request.POST.get("action"), operator_name(request.user)
    if action == "reply":
        text = request.POST.get("text", "").strip()
        if not text or len(text) > conf.MAX_MESSAGE_CHARS:
            messages.error(
                request, _("Write a reply of at most %d characters.") % conf.MAX_MESSAGE_CHARS
            )
        else:
            async_to_sync(reply)(thread.pk, text, name)
            messages.success(request, _("Your reply was sent."))
    elif action in ("pause", "resume"):
        async_to_sync(set_paused)(thread.pk, name if action == "pause" else None)
        messages.success(
            request,
            _("The agent is paused.") if action == "pause" else _("The agent answers again."),
        )
    else:
        return HttpResponseBadRequest("Unknown action.")
    return redirect(request.path)


def operator_view(request: HttpRequest, object_id: str, model_admin: Any) -> HttpResponse:
    """The operator's page for one thread (403 without ``chatkit_backend.reply_thread``)."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    thread = get_object_or_404(models.Thread, pk=unquote(object_id))
    if request.method == "POST":
        return _act(request, thread)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Operator: %s") % thread,
        "thread": thread,
        "paused": (thread.metadata or {}).get(PAUSED_KEY),
        "transcript": model_admin.transcript(thread),
        "max_chars": conf.MAX_MESSAGE_CHARS,
    }
    return TemplateResponse(request, "chatkit_backend/admin/operator.html", context)


def operator_urls(model_admin: Any) -> list[Any]:
    view = model_admin.admin_site.admin_view(partial(operator_view, model_admin=model_admin))
    return [path("<path:object_id>/operator/", view, name="chatkit_backend_thread_operator")]


def operator_link(obj: models.Thread) -> str:
    """For the thread's admin page: the way to the operator's page."""
    # Quoted, as the admin quotes every key in its URLs: "_23" in an id would read as "#".
    url = reverse("admin:chatkit_backend_thread_operator", args=[quote(obj.pk)])
    return format_html('<a href="{}">{}</a>', url, _("Reply as a person, or pause the agent"))
