"""Thread items: pages of them (newest first for the model), upserts, feedback."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import Page, ThreadItem
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import models
from ..connections import database_hop
from ..context import RequestContext
from ..timestamps import aware
from . import sql
from .base import ScopedStore
from .counters import refresh_counters, search_text
from .memo import memo_of
from .rows import Order, announce, item_from, keyset, page_of


def _in_turn(thread_id: str, context: RequestContext) -> bool:
    """Whether a turn of this request holds ``thread_id`` (its release recounts the items)."""
    return context.turn is not None and context.turn.thread_id == thread_id


class ItemsMixin(ScopedStore):
    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        memo = memo_of(context)
        read_ahead = memo.pages.pop((thread_id, after, limit, order), None)
        if read_ahead is not None:
            return read_ahead  # read in the request's first hop (``read_page``)
        if after is None and order == "desc":
            page = memo.newest_page(thread_id, limit, context)
            if page is not None:
                return page  # no thread hop for what this request already loaded
        return await database_hop(self._load_thread_items)(thread_id, after, limit, order, context)

    async def load_history(
        self, thread_id: str, limit: int, context: RequestContext
    ) -> Page[ThreadItem]:
        """The newest ``limit`` items, newest first, then (on PostgreSQL) the connection
        handed back: the model may take seconds, and open streams should not each hold one.

        No hop when the request read them already (:meth:`prefetch_history`) and kept them
        up to date with its own writes since.
        """
        page = memo_of(context).newest_page(thread_id, limit, context)
        if page is not None:
            return page

        # The hop hands the connection back (``database_hop``).
        return await database_hop(self._load_thread_items)(thread_id, None, limit, "desc", context)

    def read_page(
        self, thread_id: str, after: str | None, limit: int, order: Order, context: RequestContext
    ) -> None:
        """Read a page of items ahead (synchronously, in a hop that does more), for the
        request's ``load_thread_items`` with the same arguments."""
        page = self._load_thread_items(thread_id, after, limit, order, context)
        memo_of(context).pages[(thread_id, after, limit, order)] = page

    def prefetch_history(self, thread_id: str, limit: int, context: RequestContext) -> None:
        """Read the newest ``limit`` items into the request's memo (synchronously, in a hop
        that does more), for :meth:`load_history` and the checks before a stream."""
        self._load_thread_items(thread_id, None, limit, "desc", context)

    def _load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: Order, context: RequestContext
    ) -> Page[ThreadItem]:
        memo = memo_of(context)
        newest_first = after is None and order == "desc"
        if newest_first and (page := memo.newest_page(thread_id, limit, context)) is not None:
            return page
        cursor = None
        if after:
            # The cursor row proves the caller may read the thread too: one query for both.
            cursor = (
                self._items(thread_id, context, write=False)
                .filter(item_id=after)
                .values_list("created_at", "seq")
                .first()
            )
            if cursor is None:
                if not self._readable(thread_id, context):
                    return Page(data=[], has_more=False, after=None)
                raise NotFoundError(f"Item {after} not found in thread {thread_id}")
        elif not self._readable(thread_id, context):
            # The SDK's contract: a thread the caller may not see has no items for them.
            return Page(data=[], has_more=False, after=None)
        if newest_first:  # a turn's history, and the usual first page: on every turn
            rows = sql.newest_items(thread_id, limit + 1)
        else:
            items = models.ThreadItem.objects.filter(thread_id=thread_id)
            rows = list(
                keyset(items, cursor, order, "seq").values_list("item_id", "data")[: limit + 1]
            )
        rows, has_more, next_after = page_of(rows, limit, lambda row: row[0])
        if newest_first:
            memo.newest[thread_id] = ([data for _, data in rows], has_more)
        return Page(
            data=[item_from(data, context) for _, data in rows], has_more=has_more, after=next_after
        )

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        # An upsert: stream_agent_response re-emits an open workflow item on the next turn.
        # While the agent answers, held for the turn's last hop (``PendingMixin``).
        if not self.hold_item(thread_id, item, context):
            await database_hop(self._upsert_item)(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        if not self.hold_item(thread_id, item, context):
            await database_hop(self._upsert_item)(thread_id, item, context)

    async def save_progress(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        """Store a growing answer now, even while the turn holds its writes for its last hop:
        a reload (or another tab) shows it, and the turn's write of the finished item, under
        the same id, replaces it. For runs that may outlive their client (``live.progress``)."""
        await database_hop(self._upsert_item)(thread_id, item, context)

    def _upsert_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        # In a turn, this is the user's message: the hop then hands a database server's
        # connection back while the model talks (``database_hop``).
        self._upsert_items(thread_id, [(item, item.model_dump(mode="json"))], context)

    def _upsert_items(
        self,
        thread_id: str,
        items: list[tuple[ThreadItem, dict[str, Any]]],
        context: RequestContext,
    ) -> None:
        """Insert or replace ``items`` (each with its JSON) in one statement."""
        self.write_new_thread(context)
        if (
            context.turn is not None
            and context.turn.stopped
            and context.turn.thread_id == thread_id
        ):
            return  # the turn's thread is gone: its last items have nowhere to go
        self._touch(thread_id, context)
        rows = [
            {
                "thread": thread_id,
                "item_id": item.id,
                "type": item.type,
                "created_at": aware(item.created_at),
                "data": data,
                "text": search_text(data),
            }
            for item, data in items
        ]
        try:
            # Insert, or replace the JSON of the item with this id (its place in the thread,
            # created_at and seq, stays).
            with transaction.atomic():
                sql.upsert_items(rows)
                if not _in_turn(thread_id, context):
                    refresh_counters(thread_id)  # a turn's release recounts (store/counters.py)
        except IntegrityError:
            # The thread was deleted since this request touched it (by another worker).
            memo_of(context).newest.pop(thread_id, None)
            if models.Thread.objects.filter(id=thread_id).exists():
                raise
            self._vanished(thread_id, context)
            return
        for item, data in items:
            memo_of(context).keep_item(thread_id, data, item.created_at)
        announce(thread_id, context, "item")

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        return await database_hop(self._load_item)(thread_id, item_id, context)

    def _load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        data = (
            self._items(thread_id, context, write=False)
            .filter(item_id=item_id)
            .values_list("data", flat=True)
            .first()
        )
        if data is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return item_from(data, context)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        await database_hop(self._delete_thread_item)(thread_id, item_id, context)

    def _delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        self.write_new_thread(context)
        if context.turn is not None:
            context.turn.pending.items.pop(item_id, None)
        self._touch(thread_id, context)
        memo_of(context).newest.pop(thread_id, None)
        with transaction.atomic():
            models.ThreadItem.objects.filter(thread_id=thread_id, item_id=item_id).delete()
            if not _in_turn(thread_id, context):
                refresh_counters(thread_id)
        announce(thread_id, context, "item")

    async def set_feedback(
        self, thread_id: str, item_ids: Iterable[str], kind: str, context: RequestContext
    ) -> None:
        """Record feedback on items of the caller's thread; any unknown id changes nothing."""
        await database_hop(self._set_feedback)(thread_id, set(item_ids), kind, context)

    def _set_feedback(
        self, thread_id: str, item_ids: set[str], kind: str, context: RequestContext
    ) -> None:
        with transaction.atomic():
            updated = (
                self._items(thread_id, context, write=True)
                .filter(item_id__in=item_ids)
                .update(feedback=kind, feedback_at=timezone.now())
            )
            if updated != len(item_ids):
                # Raising inside atomic() rolls the partial update back.
                raise NotFoundError(f"Item not found in thread {thread_id}")
            refresh_counters(thread_id)
