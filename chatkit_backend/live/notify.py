"""Committed changes to threads become ``thread.changed`` notices on their owner's group.

Three sources, so that every change is announced whoever makes it:

- the store's :data:`~chatkit_backend.signals.thread_changed` signal (sent on commit): a turn's
  items, ``threads.append_item()``, a rename, a lock or close through the API;
- ``post_save`` of a ``Thread`` saved with ``update_fields`` (the admin's title or status);
- ``post_delete`` of a ``Thread`` (the API, the admin, a purge, a cascade), on commit.

A notice names the thread and why it changed, never what changed: the page fetches the
change through the protocol, with its own credentials.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from .. import models
from ..connections import calling_event_loop
from ..context import Owner
from ..store.memo import known_owner
from .groups import owner_group, thread_group

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "thread.changed"  # the consumer's handler: ``thread_changed``
REASONS = ("items", "title", "status", "deleted")

# Threads never change owner: remember whose they are (the first notice of a thread in this
# process costs one query, later ones none).
_OWNERS: OrderedDict[str, Owner] = OrderedDict()
_OWNERS_SIZE = 10_000
_pending: set[asyncio.Task[None]] = set()


def _owner(thread_id: str) -> Owner | None:
    owner = _OWNERS.get(thread_id)
    if owner is None:
        row = models.Thread.objects.filter(id=thread_id).values("owner_id", "session_key").first()
        owner = row and Owner.of_row(row["owner_id"], row["session_key"])
        if owner is None:
            return None
        _OWNERS[thread_id] = owner
        while len(_OWNERS) > _OWNERS_SIZE:
            _OWNERS.popitem(last=False)
    return owner


def publish(owner: Owner, thread_id: str, reason: str) -> None:
    """Send ``{"type": "thread.changed", ...}`` to every open socket of ``owner``.

    Callable from sync code (a store hop, an admin view) and from the event loop. A failure
    of the channel layer is logged, never raised: the change itself is committed.
    """
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": MESSAGE_TYPE, "thread_id": thread_id, "reason": reason}
    # The owner's sockets, and the staff watching the thread (the operator's page).
    groups = (owner_group(owner), thread_group(thread_id))
    try:
        asyncio.get_running_loop()
        on_loop = True
    except RuntimeError:
        on_loop = False
    try:
        if on_loop:
            _start_sending(layer, groups, message)
        elif (loop := calling_event_loop()) is not None and not loop.is_closed():
            # In a store hop: the loop sends it, and the hop does not wait for the channel
            # layer (a Redis round trip) before it hands the request back.
            loop.call_soon_threadsafe(_start_sending, layer, groups, message)
        else:
            async_to_sync(_send)(layer, groups, message)
    except Exception:
        logger.warning("Could not send a thread notice to %s", groups[0], exc_info=True)


def _start_sending(layer: Any, groups: tuple[str, ...], message: dict[str, Any]) -> None:
    task = asyncio.get_running_loop().create_task(_send(layer, groups, message))
    _pending.add(task)  # keep a reference until it is done
    task.add_done_callback(_pending.discard)


async def _send(layer: Any, groups: tuple[str, ...], message: dict[str, Any]) -> None:
    try:
        await asyncio.gather(*(layer.group_send(group, message) for group in groups))
    except Exception:
        logger.warning("Could not send a thread notice to %s", groups[0], exc_info=True)


def notify(thread_id: str, reason: str, owner: Owner | None = None) -> None:
    """Announce a change of ``thread_id`` to its owner now (sync; the change is committed).
    ``owner``: the thread's owner if the caller knows it (else it is looked up)."""
    owner = owner or _owner(thread_id)
    if owner is not None:
        publish(owner, thread_id, reason)


def reason_for(change: str, fields: Any) -> str | None:
    """The notice reason for a store change; None for changes a page cannot see."""
    if change == "item":
        return "items"
    if change != "thread":
        return None  # "deleted": announced by post_delete, whoever deletes
    if fields is None:
        return "items"  # a new thread: its first items follow
    if "status" in fields:
        return "status"
    if "title" in fields:
        return "title"
    return None  # server-side metadata only


def on_thread_changed(sender: Any, thread_id: str, change: str, **kwargs: Any) -> None:
    """Receiver of :data:`~chatkit_backend.signals.thread_changed` (already on commit)."""
    reason = reason_for(change, kwargs.get("fields"))
    if reason is not None:
        context = kwargs.get("context")
        notify(thread_id, reason, known_owner(context, thread_id) if context else None)


def on_thread_saved(sender: Any, instance: models.Thread, **kwargs: Any) -> None:
    """``post_save`` receiver: a title or status saved through the ORM (the admin)."""
    fields = kwargs.get("update_fields") or ()
    reason = "status" if "status" in fields else "title" if "title" in fields else None
    if reason is None or kwargs.get("created"):
        return
    owner = Owner.of_row(instance.owner_id, instance.session_key)
    if owner is not None:
        transaction.on_commit(
            partial(publish, owner, instance.pk, reason), using=kwargs.get("using")
        )


def on_thread_deleted(sender: Any, instance: models.Thread, **kwargs: Any) -> None:
    """``post_delete`` receiver: the owner hears of the delete once it is committed."""
    _OWNERS.pop(instance.pk, None)
    owner = Owner.of_row(instance.owner_id, instance.session_key)
    if owner is not None:
        transaction.on_commit(
            partial(publish, owner, instance.pk, "deleted"), using=kwargs.get("using")
        )


def connect() -> None:
    """Connect the receivers (from ``AppConfig.ready``)."""
    from django.db.models.signals import post_delete, post_save

    from ..signals import thread_changed

    thread_changed.connect(on_thread_changed, dispatch_uid="chatkit_live_changes")
    post_save.connect(on_thread_saved, sender=models.Thread, dispatch_uid="chatkit_live_saves")
    post_delete.connect(
        on_thread_deleted, sender=models.Thread, dispatch_uid="chatkit_live_deletes"
    )
