"""Signals sent when stored ChatKit data changes.

Every write that changes a thread goes through :class:`~chatkit_backend.store.DjangoStore`,
which sends ``thread_changed`` once the write is committed. Receivers (for example a Channels
consumer that tells a user's open pages to call ``fetchUpdates()``) get ``thread_id``,
``owner`` (a :class:`~chatkit_backend.context.Owner`) and ``change`` (``"thread"``, ``"item"``
or ``"deleted"``).
"""

from django.dispatch import Signal

thread_changed = Signal()
