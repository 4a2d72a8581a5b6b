"""A turn's writes held in memory, then stored in the turn's last hop.

Without this, each streamed item, the title and the usage cost a thread hop of their own.
With it, a turn does three: one before streaming (authentication, claim, checks, history),
one for the user's message (and threads.create's new thread), one for everything the agent
wrote, its usage and the release of the thread, before the stream's last byte, so the
client's next request reads it all. Within the turn, reads of the newest items see the held
writes (the request's memo is kept up to date with them).
"""

from __future__ import annotations

from chatkit.types import ThreadItem, ThreadMetadata
from django.db import IntegrityError, transaction

from .. import models
from ..context import RequestContext
from ..turns import Turn
from .base import ScopedStore
from .memo import memo_of


class PendingMixin(ScopedStore):
    def hold_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> bool:
        """Keep ``item`` for the end of the turn instead of writing it now; False if it is
        not the answering turn's to keep."""
        turn = context.turn
        if turn is None or not turn.pending.answering or turn.thread_id != thread_id:
            return False
        if turn.stopped:
            return True  # the turn's thread is gone: its last items have nowhere to go
        data = item.model_dump(mode="json")
        turn.pending.items[item.id] = (item, data)
        memo_of(context).keep_item(thread_id, data, item.created_at)
        return True

    def hold_thread(self, thread: ThreadMetadata, context: RequestContext) -> bool:
        """Keep a save of the turn's thread for later; False if it is to be saved now."""
        turn = context.turn
        if turn is None:
            return False
        memo = memo_of(context)
        if turn.thread_id is None and thread.id not in memo.stored:
            # threads.create's new thread: stored with the user's message, in its hop.
            turn.pending.new_thread = thread
            memo.threads[thread.id] = thread
            return True
        if turn.pending.answering and turn.thread_id == thread.id:
            turn.pending.thread = thread
            return True
        return False

    def write_new_thread(self, context: RequestContext) -> None:
        """Insert threads.create's held thread (synchronously, first in a hop that writes)."""
        turn = context.turn
        if turn is None or turn.pending.new_thread is None:
            return
        thread, turn.pending.new_thread = turn.pending.new_thread, None
        memo = memo_of(context)
        memo.threads.pop(thread.id, None)
        self._save_thread(thread, context)
        memo.newest.setdefault(thread.id, ([], False))  # a new thread: nothing older

    def write_held(self, turn: Turn, context: RequestContext) -> None:
        """Store what the turn held, in one transaction (synchronously, in its last hop)."""
        self.write_new_thread(context)
        pending = turn.pending
        items, thread = list(pending.items.values()), pending.thread
        pending.items, pending.thread, pending.answering = {}, None, False
        if turn.thread_id is None or turn.stopped:
            return
        try:
            with transaction.atomic():
                if items:
                    self._upsert_items(turn.thread_id, items, context)
                if thread is not None and not turn.stopped:
                    self._save_thread(thread, context)
        except IntegrityError:
            # PostgreSQL checks foreign keys at COMMIT: the thread was deleted meanwhile (by
            # another worker). The turn stops; what it held has nowhere to go.
            if models.Thread.objects.filter(id=turn.thread_id).exists():
                raise
            self._vanished(turn.thread_id, context)
