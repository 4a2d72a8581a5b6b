"""The channel-layer group of an owner: every open socket of a user (or of an anonymous
visitor's session) joins it, and every notice about their threads is sent to it."""

from __future__ import annotations

import hashlib

from ..context import Owner

PREFIX = "chatkit"


def owner_group(owner: Owner) -> str:
    """The group name for ``owner``.

    A session key is a credential: it is hashed, so it never appears in the channel layer
    (Redis keys, logs). Group names must be short ASCII, which a hash also guarantees.
    """
    if owner.user_id is not None:
        return f"{PREFIX}.user.{owner.user_id}"
    digest = hashlib.sha256(f"chatkit-live:{owner.session_key}".encode()).hexdigest()[:40]
    return f"{PREFIX}.session.{digest}"


def thread_group(thread_id: str) -> str:
    """The group of staff watching ``thread_id`` (the operator's page): they hear of it too."""
    return f"{PREFIX}.thread.{thread_id}"


def turn_group(thread_id: str) -> str:
    """The group a run that may outlive its client listens on for a stop (the page's stop
    button, sent over the socket: see :mod:`chatkit_backend.live.detached`)."""
    return f"{PREFIX}.turn.{thread_id}"
