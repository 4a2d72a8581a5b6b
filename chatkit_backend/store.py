"""``DjangoStore``: the ChatKit ``Store`` on the Django ORM, scoped by the access policy.

Each method runs one short synchronous function through ``sync_to_async``: one thread hop per
call, a bounded number of queries whatever the thread's length, and real transactions where a
call writes more than one row (the async ORM has none).

Someone else's thread, item or attachment behaves exactly like a missing one, so existence
never leaks. As chatkit's ``Store`` contract has it (the SDK's own store tests), that is
``NotFoundError`` from the loads of one thing, an empty page from ``load_thread_items`` and
nothing at all from ``delete_attachment``; the server checks ids before it calls those two,
so the HTTP answer is still 404.

During a turn (``context.turn``), writes to the turn's thread never recreate it and never
overwrite what others changed meanwhile; if the thread is deleted, the writes stop quietly and
the turn is stopped (see :mod:`chatkit_backend.turns`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from asgiref.sync import sync_to_async
from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from pydantic import TypeAdapter

from . import models, usage
from .access import AccessPolicy
from .attachments import ATTACHMENT_ADAPTER, finish_presigned_upload, refresh_preview
from .clients import address_key
from .conf import conf
from .context import RequestContext
from .exceptions import TurnInProgress
from .ids import generate_id
from .signals import thread_changed
from .turns import Turn, register, unregister

ITEM_ADAPTER: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)

Order = Literal["asc", "desc"]


def aware(value: datetime) -> datetime:
    """The SDK makes naive ``datetime.now()`` values; indexed columns want aware ones."""
    if settings.USE_TZ and timezone.is_naive(value):
        return timezone.make_aware(value, timezone.get_default_timezone())
    return value


def fields_of(thread: ThreadMetadata) -> dict[str, Any]:
    """A thread's metadata fields (a full ``Thread`` carries items too)."""
    return {name: getattr(thread, name) for name in ThreadMetadata.model_fields}


def to_metadata(row: models.Thread) -> ThreadMetadata:
    return ThreadMetadata(
        id=row.id,
        title=row.title,
        created_at=row.created_at,
        status=row.status or {"type": "active"},
        allowed_image_domains=row.allowed_image_domains,
        metadata=row.metadata or {},
    )


def saved_values(thread: ThreadMetadata) -> dict[str, Any]:
    """The thread columns a save writes, as stored (``thread`` may be a full ``Thread``)."""
    return {
        "title": thread.title,
        "status": thread.status.model_dump(mode="json"),
        "metadata": thread.metadata,
        "allowed_image_domains": thread.allowed_image_domains,
    }


def _holds(name: str, value: Any) -> dict[str, Any]:
    """A lookup matching rows whose column ``name`` still holds ``value``."""
    return {f"{name}__isnull": True} if value is None else {name: value}


def _remember(context: RequestContext, row: models.Thread) -> ThreadMetadata:
    memo = _Memo.of(context)
    metadata = memo.threads[row.id] = to_metadata(row)
    memo.stored[row.id] = saved_values(metadata)
    return metadata


def _announce(thread_id: str, context: RequestContext, change: str) -> None:
    transaction.on_commit(
        partial(
            thread_changed.send,
            sender=models.Thread,
            thread_id=thread_id,
            context=context,
            change=change,
        )
    )


def _keyset(rows: Any, cursor: tuple[datetime, Any] | None, order: Order, tiebreak: str) -> Any:
    """Order ``rows`` by (created_at, tiebreak) and start strictly after ``cursor``."""
    if cursor is not None:
        created_at, key = cursor
        op = "gt" if order == "asc" else "lt"
        # (created_at, key) > cursor, written so the first condition is a plain range on the
        # index: the database seeks to the cursor instead of scanning the thread.
        rows = rows.filter(**{f"created_at__{op}e": created_at}).filter(
            Q(**{f"created_at__{op}": created_at}) | Q(**{f"{tiebreak}__{op}": key})
        )
    prefix = "" if order == "asc" else "-"
    return rows.order_by(f"{prefix}created_at", f"{prefix}{tiebreak}")


def _item(data: dict[str, Any], context: RequestContext) -> ThreadItem:
    if data.get("attachments"):
        # Image previews are signed URLs that expire: sign them afresh on every read.
        data = {**data, "attachments": [refresh_preview(a, context) for a in data["attachments"]]}
    return ITEM_ADAPTER.validate_python(data)


def _page(records: list[Any], limit: int, key: Any) -> tuple[list[Any], bool, str | None]:
    has_more = len(records) > limit
    records = records[:limit]
    return records, has_more, (key(records[-1]) if has_more and records else None)


def _budget_address(context: RequestContext) -> str | None:
    """An anonymous visitor's address, as budgets count it (a new session is one dropped
    cookie away); ``None`` for users, who are counted per user."""
    if context.owner.user_id is not None or not context.client_address:
        return None
    return address_key(context.client_address)


def _budget_counters(context: RequestContext) -> list[dict[str, Any]]:
    """The daily counters a turn of ``context`` is checked against (see ``usage.counters``)."""
    return usage.counters(context.owner, _budget_address(context))


def _release_idle_connections() -> None:
    for connection in connections.all(initialized_only=True):
        # Never inside a transaction: closing would doom it (a test's, or the caller's).
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


@dataclass
class _Memo:
    """One request's answers, reused within that request only and dropped on every write."""

    threads: dict[str, ThreadMetadata] = field(default_factory=dict)
    # thread id -> its saved_values() as this request last read or wrote them: a later save
    # writes only what changed since, and never recreates a thread this request saw.
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    writable: set[str] = field(default_factory=set)
    # thread id -> (the newest items' stored JSON, newest first; whether older ones exist).
    # JSON, not the items: each reader gets items of its own to change.
    newest: dict[str, tuple[list[dict[str, Any]], bool]] = field(default_factory=dict)

    @staticmethod
    def of(context: RequestContext) -> _Memo:
        if context.store_memo is None:
            context.store_memo = _Memo()
        return context.store_memo

    def newest_page(
        self, thread_id: str, limit: int, context: RequestContext
    ) -> Page[ThreadItem] | None:
        cached = self.newest.get(thread_id)
        if cached is None:
            return None
        rows, older = cached
        if limit > len(rows) and older:
            return None
        data = [_item(row, context) for row in rows[:limit]]
        has_more = len(rows) > limit or older
        return Page(data=data, has_more=has_more, after=data[-1].id if has_more and data else None)


class DjangoStore(Store[RequestContext]):
    """Threads, items and attachment metadata in the database, visible only to their owner.

    Which rows a request may touch is the configured ``ACCESS_POLICY``'s decision; new rows
    belong to the request's owner.
    """

    def policy(self) -> AccessPolicy:
        return conf.imported("ACCESS_POLICY")()

    def _threads(self, context: RequestContext, *, write: bool) -> QuerySet[models.Thread]:
        return self.policy().threads(context, write=write)

    def _items(
        self, thread_id: str, context: RequestContext, *, write: bool
    ) -> QuerySet[models.ThreadItem]:
        return models.ThreadItem.objects.filter(
            thread_id=thread_id, thread__in=self._threads(context, write=write)
        )

    def _touch(self, thread_id: str, context: RequestContext) -> None:
        """Mark the thread active now; raise NotFoundError if the caller may not write it.

        Once per thread and request: a turn's later writes are the same caller's.
        """
        memo = _Memo.of(context)
        memo.newest.pop(thread_id, None)
        if thread_id in memo.writable:
            return
        touched = (
            self._threads(context, write=True)
            .filter(id=thread_id)
            .update(updated_at=timezone.now())
        )
        if not touched:
            raise NotFoundError(f"Thread {thread_id} not found")
        memo.writable.add(thread_id)

    def _vanished(self, thread_id: str, context: RequestContext, what: str = "Thread") -> None:
        """``thread_id`` is gone (or not the caller's): stop the turn in it, or raise.

        A turn whose thread was deleted under it stops quietly: its remaining writes are
        dropped instead of failing the stream (or recreating the thread).
        """
        turn = context.turn
        if turn is not None and turn.thread_id == thread_id:
            turn.stop("deleted")
            return
        raise NotFoundError(f"{what} {thread_id} not found")

    def _readable(self, thread_id: str, context: RequestContext) -> bool:
        memo = _Memo.of(context)
        if thread_id in memo.threads or thread_id in memo.writable:
            return True
        return self._threads(context, write=False).filter(id=thread_id).exists()

    # -- ids -------------------------------------------------------------------------------

    def generate_thread_id(self, context: RequestContext) -> str:
        return generate_id("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return generate_id(item_type)

    # -- threads ---------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        known = _Memo.of(context).threads.get(thread_id)
        if known is not None:
            return known  # no thread hop for what this request already loaded
        return await sync_to_async(self._load_thread)(thread_id, context)

    async def load_thread_to_change(
        self, thread_id: str, context: RequestContext
    ) -> ThreadMetadata:
        """``load_thread`` for a caller about to write to the thread.

        Raises ``NotFoundError`` unless the access policy lets ``context`` change it, so a
        request that may only read (say, staff under a wider read policy) is refused before
        a stream starts.
        """
        return await sync_to_async(self._load_thread)(thread_id, context, write=True)

    def _load_thread(
        self, thread_id: str, context: RequestContext, *, write: bool = False
    ) -> ThreadMetadata:
        memo = _Memo.of(context)
        known = memo.threads.get(thread_id)
        # A thread this request claimed for its turn is writable: no need to ask again.
        if known is not None and (not write or thread_id in memo.writable):
            return known
        row = self._threads(context, write=write).filter(id=thread_id).first()
        if row is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return _remember(context, row)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        """Create a new thread, or write the fields of a known one that changed.

        A thread this request has read or written before is only ever updated, field by
        field: a save never recreates a deleted thread, and never writes back stale values
        of fields it did not change. Within a turn, a changed field is written only where it
        still holds what the turn read (an owner's rename during the first turn beats the
        turn's automatic title).
        """
        await sync_to_async(self._save_thread)(thread, context)

    def _save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        memo = _Memo.of(context)
        values = saved_values(thread)  # ``thread`` may be a full Thread: metadata only
        known = memo.stored.get(thread.id)
        with transaction.atomic():
            if known is not None:
                changed = {name: value for name, value in values.items() if value != known[name]}
                if not changed or not self._update_thread(thread, known, changed, context):
                    return
            elif context.turn is not None and context.turn.thread_id is None:
                self._create_thread(thread, values, context, context.turn)
            else:
                self._upsert_thread(thread, values, context)
            _announce(thread.id, context, "thread")
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
            turn_lease_until=self._lease_end(),
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
            if rows.filter(**_holds(name, known[name])).update(**{name: value}, updated_at=now):
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
        return await sync_to_async(self._load_threads)(limit, after, order, context)

    def _load_threads(
        self, limit: int, after: str | None, order: Order, context: RequestContext
    ) -> Page[ThreadMetadata]:
        threads = self._threads(context, write=False)
        cursor = None
        if after:
            cursor = threads.filter(id=after).values_list("created_at", "id").first()
            if cursor is None:
                raise NotFoundError(f"Thread {after} not found")
        rows = list(_keyset(threads, cursor, order, "id")[: limit + 1])
        rows, has_more, next_after = _page(rows, limit, lambda row: row.id)
        return Page(data=[to_metadata(row) for row in rows], has_more=has_more, after=next_after)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        await sync_to_async(self._delete_thread)(thread_id, context)

    def _delete_thread(self, thread_id: str, context: RequestContext) -> None:
        with transaction.atomic():
            rows = self._threads(context, write=True).filter(id=thread_id)
            # Locked first (PostgreSQL): a turn's usage row, inserted meanwhile, waits for the
            # delete and is then kept without its thread, instead of failing the delete.
            if not list(rows.select_for_update().values_list("id", flat=True)):
                raise NotFoundError(f"Thread {thread_id} not found")
            rows.delete()  # running turns in the thread stop (a post_delete receiver)
            _announce(thread_id, context, "deleted")
        context.store_memo = None

    # -- items -----------------------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        if after is None and order == "desc":
            page = _Memo.of(context).newest_page(thread_id, limit, context)
            if page is not None:
                return page  # no thread hop for what this request already loaded
        return await sync_to_async(self._load_thread_items)(thread_id, after, limit, order, context)

    async def load_history(
        self, thread_id: str, limit: int, context: RequestContext
    ) -> Page[ThreadItem]:
        """The newest ``limit`` items, newest first, then the connection handed back.

        One thread hop for what a turn does before the model runs (see
        :meth:`release_connection`).
        """

        def load_and_release() -> Page[ThreadItem]:
            try:
                return self._load_thread_items(thread_id, None, limit, "desc", context)
            finally:
                _release_idle_connections()

        return await sync_to_async(load_and_release)()

    def _load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: Order, context: RequestContext
    ) -> Page[ThreadItem]:
        memo = _Memo.of(context)
        newest_first = after is None and order == "desc"
        if newest_first and (page := memo.newest_page(thread_id, limit, context)) is not None:
            return page
        items = models.ThreadItem.objects.filter(thread_id=thread_id)
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
        rows = list(
            _keyset(items, cursor, order, "seq").values_list("item_id", "data")[: limit + 1]
        )
        rows, has_more, next_after = _page(rows, limit, lambda row: row[0])
        if newest_first:
            memo.newest[thread_id] = ([data for _, data in rows], has_more)
        return Page(
            data=[_item(data, context) for _, data in rows], has_more=has_more, after=next_after
        )

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        # An upsert: stream_agent_response re-emits an open workflow item on the next turn.
        await sync_to_async(self._upsert_item)(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await sync_to_async(self._upsert_item)(thread_id, item, context)

    def _upsert_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        if (
            context.turn is not None
            and context.turn.stopped
            and context.turn.thread_id == thread_id
        ):
            return  # the turn's thread is gone: its last items have nowhere to go
        self._touch(thread_id, context)
        try:
            # One statement: insert, or replace the JSON of the item with this id (its place in
            # the thread, created_at and seq, stays).
            models.ThreadItem.objects.bulk_create(
                [
                    models.ThreadItem(
                        thread_id=thread_id,
                        item_id=item.id,
                        type=item.type,
                        created_at=aware(item.created_at),
                        data=item.model_dump(mode="json"),
                    )
                ],
                update_conflicts=True,
                unique_fields=["thread", "item_id"],
                update_fields=["data", "type"],
            )
        except IntegrityError:
            # The thread was deleted since this request touched it (by another worker).
            if models.Thread.objects.filter(id=thread_id).exists():
                raise
            self._vanished(thread_id, context)
            return
        _announce(thread_id, context, "item")

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        return await sync_to_async(self._load_item)(thread_id, item_id, context)

    def _load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        data = (
            self._items(thread_id, context, write=False)
            .filter(item_id=item_id)
            .values_list("data", flat=True)
            .first()
        )
        if data is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return _item(data, context)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        await sync_to_async(self._delete_thread_item)(thread_id, item_id, context)

    def _delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        self._touch(thread_id, context)
        models.ThreadItem.objects.filter(thread_id=thread_id, item_id=item_id).delete()
        _announce(thread_id, context, "item")

    async def set_feedback(
        self, thread_id: str, item_ids: Iterable[str], kind: str, context: RequestContext
    ) -> None:
        """Record feedback on items of the caller's thread; any unknown id changes nothing."""
        await sync_to_async(self._set_feedback)(thread_id, set(item_ids), kind, context)

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

    # -- attachments -----------------------------------------------------------------------

    def attachment_rows(
        self, context: RequestContext, *, write: bool
    ) -> QuerySet[models.Attachment]:
        """The attachments ``context`` may read (``write=False``) or change, as the access
        policy decides."""
        return self.policy().attachments(context, write=write)

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        await sync_to_async(self.save_attachment_record)(attachment, context)

    def save_attachment_record(
        self, attachment: Attachment, context: RequestContext, **file_fields: Any
    ) -> None:
        """``save_attachment``, synchronously, with ``Attachment`` row fields of the bytes
        (``file_name``, ``size``, ``uploaded_at``) for the upload code that stored them."""
        fields = {
            "name": attachment.name,
            "mime_type": attachment.mime_type,
            "thread_id": attachment.thread_id,
            "data": attachment.model_dump(mode="json"),
            **file_fields,
        }
        with transaction.atomic():
            if (
                attachment.thread_id
                and not self._threads(context, write=True).filter(id=attachment.thread_id).exists()
            ):
                self._vanished(attachment.thread_id, context)
                return
            updated = (
                self.attachment_rows(context, write=True).filter(id=attachment.id).update(**fields)
            )
            if not updated:
                try:
                    with transaction.atomic():
                        models.Attachment.objects.create(
                            id=attachment.id, **context.owner.as_fields(), **fields
                        )
                except IntegrityError:
                    raise NotFoundError(f"Attachment {attachment.id} not found") from None

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        return await sync_to_async(self._load_attachment)(attachment_id, context)

    async def load_attachment_to_change(
        self, attachment_id: str, context: RequestContext
    ) -> Attachment:
        """``load_attachment`` for a caller about to change or delete the attachment.

        Raises ``NotFoundError`` unless the access policy lets ``context`` write it.
        """
        return await sync_to_async(self._load_attachment)(attachment_id, context, write=True)

    def _load_attachment(
        self, attachment_id: str, context: RequestContext, *, write: bool = False
    ) -> Attachment:
        data = (
            self.attachment_rows(context, write=write)
            .filter(id=attachment_id)
            .values_list("data", flat=True)
            .first()
        )
        if data is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return ATTACHMENT_ADAPTER.validate_python(refresh_preview(data, context))

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        await sync_to_async(self._delete_attachment)(attachment_id, context)

    def _delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        with transaction.atomic():
            # Locked first: an upload in flight holds the row until its bytes are stored, and
            # the row read after it knows their name, so the file goes with the row.
            row = (
                self.attachment_rows(context, write=True)
                .select_for_update(of=("self",))
                .filter(id=attachment_id)
                .first()
            )
            if row is not None:  # the SDK's contract: deleting what is not there is a no-op
                row.delete()

    # -- helpers for the server's checks before streaming ----------------------------------

    async def usable_attachments(
        self, attachment_ids: Iterable[str], context: RequestContext
    ) -> dict[str, bool]:
        """For each of ``attachment_ids`` the caller may use: whether its bytes arrived."""
        ids = set(attachment_ids)
        if not ids:
            return {}

        def query() -> dict[str, bool]:
            rows = self.attachment_rows(context, write=True).filter(id__in=ids)
            usable = {
                id_: uploaded is not None or (bool(name) and finish_presigned_upload(id_))
                for id_, uploaded, name in rows.values_list("id", "uploaded_at", "file_name")
            }
            return usable

        return await sync_to_async(query)()

    # -- usage and turns ---------------------------------------------------------------------

    async def record_usage(
        self, thread_id: str | None, context: RequestContext, **fields: Any
    ) -> None:
        """Keep one run's token usage (``TurnUsage`` fields), owned like the thread.

        Usage outlives its thread: if the thread is gone, the row is kept without it.
        """
        fields = {**fields, "client_address": _budget_address(context) or ""}
        await sync_to_async(usage.record)(context.owner, thread_id, [fields])

    @staticmethod
    def _lease_end() -> datetime:
        return timezone.now() + timedelta(seconds=float(conf.TURN_LEASE_SECONDS))

    async def begin_turn(
        self,
        thread_id: str | None,
        context: RequestContext,
        *,
        budget: int | None = None,
        reservation: int = 0,
    ) -> Turn:
        """Start a turn: claim ``thread_id`` (``None`` for threads.create, whose new thread is
        claimed when stored) and reserve ``reservation`` tokens against ``budget``.

        One thread hop. Raises ``NotFoundError``, ``TurnInProgress`` (another turn holds the
        thread) or ``TurnRefused`` (the budget is spent), having changed nothing.
        """
        turn = Turn(owner=context.owner, thread_id=thread_id)
        await sync_to_async(self._begin_turn)(turn, context, budget, reservation)
        context.turn = turn
        register(turn)
        return turn

    def _begin_turn(
        self, turn: Turn, context: RequestContext, budget: int | None, reservation: int
    ) -> None:
        with transaction.atomic():  # a refused reservation undoes the claim
            if turn.thread_id is not None:
                self._claim(turn, context)
            if budget is not None:
                turn.day = usage.reserve(_budget_counters(context), int(budget), reservation)
                turn.reserved = reservation

    def _claim(self, turn: Turn, context: RequestContext) -> None:
        now = timezone.now()
        rows = self._threads(context, write=True).filter(id=turn.thread_id)
        free = Q(turn_lease_until__isnull=True) | Q(turn_lease_until__lt=now)
        claimed = rows.filter(free).update(
            turn_lease=turn.lease, turn_lease_until=self._lease_end()
        )
        row = rows.first()
        if row is None:
            raise NotFoundError(f"Thread {turn.thread_id} not found")
        if not claimed:
            raise TurnInProgress(
                "The assistant is still answering in this thread. Try again when it is done."
            )
        _remember(context, row)
        _Memo.of(context).writable.add(row.id)

    async def renew_turn(self, turn: Turn) -> bool:
        """Extend the turn's claim; False if it no longer holds it (the thread is gone)."""
        if turn.thread_id is None:
            return True

        def renew() -> bool:
            rows = models.Thread.objects.filter(id=turn.thread_id, turn_lease=turn.lease)
            return bool(rows.update(turn_lease_until=self._lease_end()))

        return await sync_to_async(renew)()

    async def end_turn(self, turn: Turn, context: RequestContext, *, ran: bool = True) -> None:
        """End a turn: record what it spent, settle its reservation, release its thread.

        One thread hop. ``ran=False`` for a turn refused before it streamed: nothing was spent
        and the thread's last activity stays as it was.
        """
        unregister(turn)
        turn.cancel_runs()  # whatever still runs stops spending now
        charges = turn.charges()

        def release_and_settle() -> None:
            if turn.thread_id is not None:
                activity = {"updated_at": timezone.now()} if ran else {}
                models.Thread.objects.filter(id=turn.thread_id, turn_lease=turn.lease).update(
                    turn_lease="", turn_lease_until=None, **activity
                )
            if turn.day is not None:
                spent = sum(charge.total_tokens for charge in charges)
                usage.settle(_budget_counters(context), turn.day, turn.reserved, spent)

        thread_id = None if turn.stopped == "deleted" else turn.thread_id
        address = {"client_address": _budget_address(context) or ""}
        rows = [{**charge.fields(), **address} for charge in charges]
        await sync_to_async(usage.record)(context.owner, thread_id, rows, release_and_settle)
