"""The per-request context handed to the store, the server and the agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .turns import Turn


@dataclass(frozen=True)
class Owner:
    """Who owns the data a request may touch: a user, or an anonymous visitor's session."""

    user_id: Any = None
    session_key: str | None = None

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.session_key is None):
            raise ValueError("An owner is either a user or a session, not both or neither.")

    @classmethod
    def of_row(cls, owner_id: Any, session_key: str | None) -> Owner | None:
        """The owner a row's ``owner_id`` / ``session_key`` name (None for an orphan)."""
        if owner_id is not None:
            return cls(user_id=owner_id)
        if session_key:
            return cls(session_key=session_key)
        return None

    def as_filter(self, prefix: str = "") -> dict[str, Any]:
        """Lookup kwargs that scope a queryset to this owner (``prefix`` for related models)."""
        if self.user_id is not None:
            return {f"{prefix}owner_id": self.user_id}
        return {f"{prefix}owner__isnull": True, f"{prefix}session_key": self.session_key}

    def as_fields(self) -> dict[str, Any]:
        """Field values that give a new row to this owner."""
        return {"owner_id": self.user_id, "session_key": self.session_key or ""}


@dataclass
class RequestContext:
    """What one ChatKit request knows about its caller.

    ``request`` is ``None`` when server code (a management command, a background job) works
    on a thread outside of any HTTP request.
    """

    owner: Owner
    user: Any = None
    request: HttpRequest | None = None
    locale: str | None = None
    # The client's IP address (``intake.clients.client_address``); anonymous visitors' limits and
    # budgets count per address as well as per session.
    client_address: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The turn this request runs, for streaming requests: its claim on the thread, its budget
    # reservation and what it spends. Set by the server; None for other requests.
    turn: Turn | None = field(default=None, repr=False, compare=False)
