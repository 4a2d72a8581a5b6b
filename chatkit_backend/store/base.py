"""What every part of ``DjangoStore`` stands on: the rows a request may touch, and ids."""

from __future__ import annotations

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import ThreadMetadata
from django.db.models import QuerySet
from django.utils import timezone

from .. import models
from ..access import AccessPolicy
from ..conf import conf
from ..context import RequestContext
from ..ids import generate_id
from .memo import memo_of


class ScopedStore(Store[RequestContext]):
    """The ChatKit ``Store``, scoped to what the configured ``ACCESS_POLICY`` allows."""

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

        Once per thread and request: a turn's later writes are the same caller's. The writer
        keeps the request's memo of the newest items up to date (or drops it).
        """
        memo = memo_of(context)
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
        memo = memo_of(context)
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
