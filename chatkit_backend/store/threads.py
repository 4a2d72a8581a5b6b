"""Threads: load, list, save (never recreating one, never overwriting others' changes), delete."""

from __future__ import annotations

from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import Page, ThreadMetadata
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import models
from ..connections import database_hop
from ..context import RequestContext
from ..timestamps import aware
from ..turns import Turn, lease_end
from .base import ScopedStore
from .memo import forget, memo_of, remember
from .rows import (
    Order,
    announce,
    fields_of,
    holds,
    keyset,
    page_of,
    saved_values,
    to_metadata,
)


class ThreadsMixin(ScopedStore):
    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        known = memo_of(context).threads.get(thread_id)
        if known is not None:
            return known  # no thread hop for what this request already loaded
        return await database_hop(self._load_thread)(thread_id, context)

    async def load_thread_to_change(
        self, thread_id: str, context: RequestContext
    ) -> ThreadMetadata:
        """``load_thread`` for a caller about to write to the thread.

        Raises ``NotFoundError`` unless the access policy lets ``context`` change it, so a
        request that may only read (say, staff under a wider read policy) is refused before
        a stream starts.
        """
        memo = memo_of(context)
        known = memo.threads.get(thread_id)
        if known is not None and thread_id in memo.writable:
            return known  # claimed by this request's turn: writable, and no hop to ask
        return await database_hop(self._load_thread)(thread_id, context, write=True)

    def read_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        """``load_thread``, synchronously (for a hop that does more): the request's later
        ``load_thread`` of it needs no hop."""
        return self._load_thread(thread_id, context)

    def _load_thread(
        self, thread_id: str, context: RequestContext, *, write: bool = False
    ) -> ThreadMetadata:
        self.write_new_thread(context)
        memo = memo_of(context)
        known = memo.threads.get(thread_id)
        # A thread this request claimed for its turn is writable: no need to ask again.
        if known is not None and (not write or thread_id in memo.writable):
            return known
        row = self._threads(context, write=write).filter(id=thread_id).first()
        if row is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return remember(context, row)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        """Create a new thread, or write the fields of a known one that changed.

        A thread this request has read or written before is only ever updated, field by
        field: a save never recreates a deleted thread, and never writes back stale values
        of fields it did not change. Within a turn, a changed field is written only where it
        still holds what the turn read (an owner's rename during the first turn beats the
        turn's automatic title).
        """
        if not self.hold_thread(thread, context):  # held for a later hop of the turn
            await database_hop(self._save_thread)(thread, context)

    def _save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        self.write_new_thread(context)
        memo = memo_of(context)
        values = saved_values(thread)  # ``thread`` may be a full Thread: metadata only
        known = memo.stored.get(thread.id)
        changed: dict[str, Any] | None = None
        with transaction.atomic():
            if known is not None:
                changed = {name: value for name, value in values.items() if value != known[name]}
                if not changed or not self._update_thread(thread, known, changed, context):
                    return
            elif context.turn is not None and context.turn.thread_id is None:
                self._create_thread(thread, values, context, context.turn)
            else:
                self._upsert_thread(thread, values, context)
            announce(thread.id, context, "thread", None if changed is None else list(changed))
        memo.writable.add(thread.id)
        memo.stored[thread.id] = saved_values(thread)
        memo.threads[thread.id] = (
            thread if type(thread) is ThreadMetadata else ThreadMetadata(**fields_of(thread))
        )

    def _create_thread(
        self, thread: ThreadMetadata, values: dict[str, Any], context: RequestContext, turn: Turn
    ) -> None:
        """Insert the thread threads.create makes, already claimed by its first turn."""
        self._insert_thread(
            thread,
            context,
            updated_at=timezone.now(),
            turn_lease=turn.lease,
            turn_lease_until=lease_end(),
            **values,
        )
        turn.thread_id = thread.id

    def _upsert_thread(
        self, thread: ThreadMetadata, values: dict[str, Any], context: RequestContext
    ) -> None:
        """Save a thread this request knows nothing about (server code): update or create."""
        fields = {**values, "updated_at": timezone.now()}
        if not self._threads(context, write=True).filter(id=thread.id).update(**fields):
            self._insert_thread(thread, context, **fields)

    def _insert_thread(
        self, thread: ThreadMetadata, context: RequestContext, **fields: Any
    ) -> None:
        try:
            with transaction.atomic():
                models.Thread.objects.create(
                    id=thread.id,
                    created_at=aware(thread.created_at),
                    **context.owner.as_fields(),
                    **fields,
                )
        except IntegrityError:
            # The id exists but is someone else's: behave as if it did not.
            raise NotFoundError(f"Thread {thread.id} not found") from None
        memo_of(context).owners[thread.id] = context.owner

    def _update_thread(
        self,
        thread: ThreadMetadata,
        known: dict[str, Any],
        changed: dict[str, Any],
        context: RequestContext,
    ) -> bool:
        """Write ``changed`` fields of a thread this request knows; False if it is gone."""
        rows = self._threads(context, write=True).filter(id=thread.id)
        now = timezone.now()
        turn = context.turn
        if turn is None or turn.thread_id != thread.id:
            # An explicit change (a rename): the last writer wins.
            if not rows.update(**changed, updated_at=now):
                raise NotFoundError(f"Thread {thread.id} not found")
            return True
        # A turn's copy may be stale: each field changes only where it still holds what the
        # turn read, so changes made meanwhile (a rename, a close) survive the turn.
        for name, value in changed.items():
            if rows.filter(**holds(name, known[name])).update(**{name: value}, updated_at=now):
                continue
            row = rows.first()
            if row is None:
                self._vanished(thread.id, context)
                return False
            # Someone changed it meanwhile: theirs stands, and the client is told so.
            current = to_metadata(row)
            setattr(thread, name, getattr(current, name))
        return True

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        read_ahead = memo_of(context).thread_pages.pop((limit, after, order), None)
        if read_ahead is not None:
            return read_ahead  # read in the request's first hop (``read_threads``)
        return await database_hop(self._load_threads)(limit, after, order, context)

    def read_threads(
        self, limit: int, after: str | None, order: Order, context: RequestContext
    ) -> None:
        """Read a page of threads ahead (synchronously, in a hop that does more), for the
        request's ``load_threads`` with the same arguments."""
        page = self._load_threads(limit, after, order, context)
        memo_of(context).thread_pages[(limit, after, order)] = page

    def _load_threads(
        self, limit: int, after: str | None, order: Order, context: RequestContext
    ) -> Page[ThreadMetadata]:
        threads = self._threads(context, write=False)
        cursor = None
        if after:
            cursor = threads.filter(id=after).values_list("created_at", "id").first()
            if cursor is None:
                raise NotFoundError(f"Thread {after} not found")
        rows = list(keyset(threads, cursor, order, "id")[: limit + 1])
        rows, has_more, next_after = page_of(rows, limit, lambda row: row.id)
        return Page(data=[to_metadata(row) for row in rows], has_more=has_more, after=next_after)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        await database_hop(self._delete_thread)(thread_id, context)

    def _delete_thread(self, thread_id: str, context: RequestContext) -> None:
        with transaction.atomic():
            rows = self._threads(context, write=True).filter(id=thread_id)
            # Locked first (PostgreSQL): a turn's usage row, inserted meanwhile, waits for the
            # delete and is then kept without its thread, instead of failing the delete.
            if not list(rows.select_for_update().values_list("id", flat=True)):
                raise NotFoundError(f"Thread {thread_id} not found")
            rows.delete()  # running turns in the thread stop (a post_delete receiver)
            announce(thread_id, context, "deleted")
        forget(context)
