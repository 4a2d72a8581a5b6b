"""``DjangoStore``: the ChatKit ``Store`` on the Django ORM, scoped by the access policy.

Each method runs one short synchronous function through ``database_hop``: one thread hop per
call, a bounded number of queries whatever the thread's length, and real transactions where a
call writes more than one row (the async ORM has none). A turn holds its writes (``pending``)
and reads what it already read (``memo``), so it makes three hops in all.

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

from .attachments import AttachmentsMixin
from .items import ItemsMixin
from .pending import PendingMixin
from .threads import ThreadsMixin
from .turns import TurnsMixin


class DjangoStore(ThreadsMixin, ItemsMixin, AttachmentsMixin, TurnsMixin, PendingMixin):
    """Threads, items and attachment metadata in the database, visible only to their owner.

    Which rows a request may touch is the configured ``ACCESS_POLICY``'s decision; new rows
    belong to the request's owner. Each concern has a module of its own in this package
    (``threads``, ``items``, ``attachments``, ``turns``). The server, its orchestrator and the
    upload views all use the server's store: to change the store, subclass this class and
    pass an instance to a ``DjangoChatKitServer`` subclass (``SERVER_CLASS``).
    """


__all__ = ["DjangoStore"]
