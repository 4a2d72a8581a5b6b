"""The admin's Playground: the protocol console (:mod:`chatkit_backend.console`) as a page of
Django admin, hung off the proxy model ``models.Playground`` (see :class:`.entries.PageEntry`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ..console import PERMISSION
from .entries import PageEntry


class PlaygroundAdmin(PageEntry):
    """Staff holding ``chatkit_backend.use_playground`` (and superusers) chat as themselves."""

    permission = PERMISSION
    template = "chatkit_backend/admin/playground.html"
    title = _("Playground")
