"""What the retention commands print and read: counts, owners and user text fit for a
terminal, and users named by their username."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model


def plural(count: int, noun: str) -> str:
    """``"1 thread"``, ``"2 threads"``: for progress lines."""
    return f"{count} {noun if count == 1 else noun + 's'}"


def owner_label(owner: Any, session_key: str) -> str:
    """Who owns a row, fit to print (a session key is a credential, so it is never shown)."""
    if owner is not None:
        return str(owner.get_username())
    return "anonymous session" if session_key else "nobody"


def printable(text: str | None, limit: int = 60) -> str:
    """User text (a thread title, a file name) safe to print on a terminal: no control
    characters (an escape sequence in a title must not drive the operator's terminal)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in (text or ""))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def find_user(username: str) -> Any:
    """The user with this username (``USERNAME_FIELD``); raises ``LookupError`` if none."""
    user_model = get_user_model()
    try:
        return user_model._default_manager.get_by_natural_key(username)
    except user_model.DoesNotExist:
        raise LookupError(f"No user with {user_model.USERNAME_FIELD} {username!r}.") from None
