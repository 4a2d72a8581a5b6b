"""What the store already knows within one request, so a turn does not ask the database the
same question twice: threads it loaded, the newest items, the threads it may write.

Kept beside the request's ``RequestContext`` (never on it: it is the store's own business),
and dropped with it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chatkit.types import Page, ThreadItem, ThreadMetadata

from .. import models
from ..context import Owner, RequestContext
from ..timestamps import aware
from .rows import item_from, saved_values, to_metadata


@dataclass
class RequestMemo:
    """One request's answers, reused within that request only and dropped on every write."""

    threads: dict[str, ThreadMetadata] = field(default_factory=dict)
    # thread id -> its saved_values() as this request last read or wrote them: a later save
    # writes only what changed since, and never recreates a thread this request saw.
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    writable: set[str] = field(default_factory=set)
    # thread id -> its owner, for the live notices of this request's writes (which would
    # otherwise ask the database whose thread it is).
    owners: dict[str, Owner] = field(default_factory=dict)
    # thread id -> (the newest items' stored JSON, newest first; whether older ones exist).
    # JSON, not the items: each reader gets items of its own to change.
    newest: dict[str, tuple[list[dict[str, Any]], bool]] = field(default_factory=dict)
    # (thread id, after, limit, order) -> a page read ahead for this request, used once.
    pages: dict[tuple[str, str | None, int, str], Page[ThreadItem]] = field(default_factory=dict)
    # (limit, after, order) -> a page of threads read ahead, used once.
    thread_pages: dict[tuple[int, str | None, str], Page[ThreadMetadata]] = field(
        default_factory=dict
    )

    def newest_page(
        self, thread_id: str, limit: int, context: RequestContext
    ) -> Page[ThreadItem] | None:
        cached = self.newest.get(thread_id)
        if cached is None:
            return None
        rows, older = cached
        if limit > len(rows) and older:
            return None
        data = [item_from(row, context) for row in rows[:limit]]
        has_more = len(rows) > limit or older
        return Page(data=data, has_more=has_more, after=data[-1].id if has_more and data else None)

    def keep_item(self, thread_id: str, data: dict[str, Any], created_at: datetime) -> None:
        """An item this request just wrote (its stored JSON): replace it in the newest items,
        or put it first when it is the newest (the usual case: a turn's message or answer);
        otherwise drop what is known, to be read again."""
        cached = self.newest.get(thread_id)
        if cached is None:
            return
        rows, _ = cached
        for index, row in enumerate(rows):
            if row.get("id") == data["id"]:
                rows[index] = data
                return
        try:
            newest = not rows or aware(created_at) >= aware(
                datetime.fromisoformat(rows[0]["created_at"])
            )
        except (TypeError, ValueError, KeyError):  # naive against aware: do not guess
            newest = False
        if newest:
            rows.insert(0, data)
        else:
            del self.newest[thread_id]


# id(context) -> its memo, until the context is garbage (a context is unhashable: it is a
# dataclass that compares by value).
_memos: dict[int, RequestMemo] = {}


def memo_of(context: RequestContext) -> RequestMemo:
    key = id(context)
    memo = _memos.get(key)
    if memo is None:
        memo = _memos[key] = RequestMemo()
        weakref.finalize(context, _memos.pop, key, None)
    return memo


def forget(context: RequestContext) -> None:
    """Drop what the store knows for ``context`` (after a delete)."""
    _memos.pop(id(context), None)


def remember(context: RequestContext, row: models.Thread) -> ThreadMetadata:
    """Keep a thread row this request read; returns it as the SDK's metadata."""
    memo = memo_of(context)
    metadata = memo.threads[row.id] = to_metadata(row)
    memo.stored[row.id] = saved_values(metadata)
    if (owner := Owner.of_row(row.owner_id, row.session_key)) is not None:
        memo.owners[row.id] = owner
    return metadata


def known_owner(context: RequestContext, thread_id: str) -> Owner | None:
    """The owner of ``thread_id`` if this request read or created the thread."""
    memo = _memos.get(id(context))
    return memo.owners.get(thread_id) if memo is not None else None
