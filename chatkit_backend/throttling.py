"""Per-owner rate limits, on DRF's throttling (and so on Django's cache).

Two scopes, rates in DRF's form (``"20/min"``, ``"500/day"``; ``None`` turns a scope off):
``"turns"`` counts streaming ops (each one calls the model) and ``"requests"`` counts the
JSON ops. Use a shared cache (Redis, Memcached) when you run several workers, or each worker
counts on its own.

A user is counted per user. An anonymous visitor is counted per session *and* per client
address (``intake.clients.client_address``), since a new session is one dropped cookie away.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from .conf import conf
from .context import RequestContext
from .intake.clients import address_key


class OwnerRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle, keyed by the ChatKit owner (user or anonymous session), or by
    ``ident`` when given."""

    def __init__(self, scope: str, context: RequestContext, ident: str | None = None):
        self.scope = scope
        self.context = context
        self.ident = ident
        super().__init__()

    def get_rate(self) -> str | None:
        return (conf.THROTTLE_RATES or {}).get(self.scope)

    def get_cache_key(self, request: Any, view: Any) -> str:
        owner = self.context.owner
        ident = self.ident or (
            f"u{owner.user_id}" if owner.user_id is not None else f"s{owner.session_key}"
        )
        return f"chatkit_backend:throttle:{self.scope}:{ident}"


def counted_as(context: RequestContext) -> list[str | None]:
    """The keys a request counts under: its owner's (``None``), and an anonymous visitor's
    address."""
    keys: list[str | None] = [None]
    if context.owner.user_id is None and context.client_address:
        keys.append(f"a{address_key(context.client_address)}")
    return keys


def throttle_wait(scope: str, request: HttpRequest, context: RequestContext) -> float | None:
    """Seconds to wait if this request is over the scope's rate, else ``None`` (counts it)."""
    if not (conf.THROTTLE_RATES or {}).get(scope):
        return None
    waits = []
    for ident in counted_as(context):
        throttle = OwnerRateThrottle(scope, context, ident)
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 1.0)
    return max(waits) if waits else None
