"""Signals sent when stored ChatKit data changes.

Every write that changes a thread goes through :class:`~chatkit_backend.store.DjangoStore`,
which sends ``thread_changed`` once the write is committed. Receivers (for example a Channels
consumer that tells a user's open pages to call ``fetchUpdates()``) get ``thread_id``,
``context`` (the :class:`~chatkit_backend.context.RequestContext` of whoever made the change)
and ``change`` (``"thread"``, ``"item"`` or ``"deleted"``).
"""

from django.dispatch import Signal

thread_changed = Signal()
