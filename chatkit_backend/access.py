"""Who may read and write which threads: the one owner check every store call goes through.

Point ``CHATKIT_BACKEND["ACCESS_POLICY"]`` at a subclass to widen or narrow it, for example::

    class StaffReadsEverything(AccessPolicy):
        def threads(self, context, *, write):
            if not write and context.user is not None and context.user.is_staff:
                return Thread.objects.all()
            return super().threads(context, write=write)

Whatever a policy leaves out behaves exactly like a missing id (404), never 403.
"""

from __future__ import annotations

from django.db.models import QuerySet

from .context import RequestContext
from .models import Attachment, Thread


class AccessPolicy:
    """The default: a user sees their own threads; an anonymous visitor, their session's."""

    def threads(self, context: RequestContext, *, write: bool) -> QuerySet[Thread]:
        """The threads ``context`` may read (``write=False``) or change (``write=True``)."""
        return Thread.objects.filter(**context.owner.as_filter())

    def attachments(self, context: RequestContext, *, write: bool) -> QuerySet[Attachment]:
        """The attachments ``context`` may read or change."""
        return Attachment.objects.filter(**context.owner.as_filter())
