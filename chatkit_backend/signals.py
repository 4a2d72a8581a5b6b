"""Signals sent when stored ChatKit data changes.

Every write that changes a thread goes through :class:`~chatkit_backend.store.DjangoStore`,
which sends ``thread_changed`` once the write is committed. Receivers (for example a Channels
consumer that tells a user's open pages to call ``fetchUpdates()``) get ``thread_id``,
``context`` (the :class:`~chatkit_backend.context.RequestContext` of whoever made the change)
``change`` (``"thread"``, ``"item"`` or ``"deleted"``) and ``fields`` (for ``"thread"``: the
thread fields written, such as ``["title"]``; None for a new thread). The live socket's
notices (:mod:`chatkit_backend.live.notify`) are built on it.
"""

from django.dispatch import Signal

thread_changed = Signal()
