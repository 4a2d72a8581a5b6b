"""Retention and data rights: purge inactive threads or one user's data; export a user's data.

Everything here reads the database in pages (``pages``): memory stays bounded on tables of
any size. ``purge`` deletes, ``export`` writes JSON-ready records, ``terminal`` holds what the
commands print.

The management commands ``chatkit_purge`` and ``chatkit_export`` are thin shells around
:class:`Purge` and :class:`Export`; other callers (an admin action, a scheduled job) can use
them the same way.
"""

from .export import EXPORT_FORMAT, Export, FileCopier
from .pages import DEFAULT_BATCH_SIZE, delete_in_pages, pages
from .purge import AttachmentSummary, Purge, PurgeBatch, PurgeTotals, ThreadSummary
from .terminal import find_user, owner_label, plural, printable

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "EXPORT_FORMAT",
    "AttachmentSummary",
    "Export",
    "FileCopier",
    "Purge",
    "PurgeBatch",
    "PurgeTotals",
    "ThreadSummary",
    "delete_in_pages",
    "find_user",
    "owner_label",
    "pages",
    "plural",
    "printable",
]
