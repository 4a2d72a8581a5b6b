"""Lock, unlock, close and reopen threads from the admin: one place for the page and the list.

A thread's status is chatkit's ``ThreadStatus`` JSON: ``{"type": "active"}``, or ``locked`` /
``closed`` with an optional ``reason`` the widget shows the user. Each change is written
only to threads in a state it applies to, logged in Django's admin log, and announced to the
owner's open pages (``thread_changed``) once committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from .. import models
from ..context import Owner, RequestContext
from ..store.rows import announce

STATUS_PERMISSION = "chatkit_backend.change_thread_status"
MAX_REASON = 500


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    done: str  # for the admin log and messages
    to: str  # the new status type
    applies_to: frozenset[str]  # the status types it changes
    takes_reason: bool


TRANSITIONS = {
    t.name: t
    for t in (
        Transition("lock", "Lock", "Locked", "locked", frozenset({"active"}), True),
        Transition("unlock", "Unlock", "Unlocked", "active", frozenset({"locked"}), False),
        Transition("close", "Close", "Closed", "closed", frozenset({"active", "locked"}), True),
        Transition("reopen", "Reopen", "Reopened", "active", frozenset({"closed"}), False),
    )
}


def status_json(kind: str, reason: str = "") -> dict[str, Any]:
    """chatkit's ThreadStatus as stored: a reason only on locked and closed threads."""
    reason = reason.strip()[:MAX_REASON]
    if kind == "active" or not reason:
        return {"type": kind}
    return {"type": kind, "reason": reason}


def describe_status(status: dict[str, Any] | None) -> str:
    status = status or {}
    kind = status.get("type") or "active"
    label = {"active": "open"}.get(kind, kind)
    reason = status.get("reason")
    return f"{label}: {reason}" if reason else label


def owner_context(thread: models.Thread) -> RequestContext:
    if thread.owner_id is not None:
        return RequestContext(owner=Owner(user_id=thread.owner_id))
    return RequestContext(owner=Owner(session_key=thread.session_key))


def in_states(threads: QuerySet[models.Thread], states: frozenset[str]) -> QuerySet[Any]:
    """Those of ``threads`` whose status type is one of ``states`` (an empty status is open)."""
    matches = Q(state__in=states) | (Q(state__isnull=True) if "active" in states else Q())
    return threads.alias(state=models.STATUS_TYPE).filter(matches)


def apply(
    request: HttpRequest, threads: QuerySet[models.Thread], name: str, reason: str = ""
) -> list[models.Thread]:
    """Apply transition ``name`` to those of ``threads`` it applies to; returns them.

    One UPDATE of the status column only (a turn running meanwhile keeps its own changes),
    one admin log entry per thread, one notice per thread to its owner's open pages.
    """
    transition = TRANSITIONS[name]
    new = status_json(transition.to, reason if transition.takes_reason else "")
    with transaction.atomic():
        rows = in_states(threads.select_related(None), transition.applies_to)
        changed = list(
            rows.select_for_update().only("id", "title", "status", "owner_id", "session_key")
        )
        models.Thread.objects.filter(pk__in=[row.pk for row in changed]).update(status=new)
        for thread in changed:
            thread.status = new
            announce(thread.id, owner_context(thread), "thread")
        log(request, changed, f"{transition.done} thread ({describe_status(new)})")
    return changed


def log(request: HttpRequest, threads: list[models.Thread], message: str) -> None:
    """One admin log entry per thread (what the history page of each thread lists)."""
    if not threads:
        return
    content_type = ContentType.objects.get_for_model(models.Thread)
    LogEntry.objects.bulk_create(
        LogEntry(
            user_id=request.user.pk,
            content_type=content_type,
            object_id=str(thread.pk),
            object_repr=str(thread)[:200],
            action_flag=CHANGE,
            change_message=message,
        )
        for thread in threads
    )
