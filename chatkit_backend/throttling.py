"""Per-owner rate limits, on DRF's throttling (and so on Django's cache).

Two scopes, rates in DRF's form (``"20/min"``, ``"500/day"``; ``None`` turns a scope off):
``"turns"`` counts streaming ops (each one calls the model) and ``"requests"`` counts the
JSON ops. Use a shared cache (Redis, Memcached) when you run several workers, or each worker
counts on its own.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from .conf import conf
from .context import RequestContext


class OwnerRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle, keyed by the ChatKit owner (user or anonymous session)."""

    def __init__(self, scope: str, context: RequestContext):
        self.scope = scope
        self.context = context
        super().__init__()

    def get_rate(self) -> str | None:
        return (conf.THROTTLE_RATES or {}).get(self.scope)

    def get_cache_key(self, request: Any, view: Any) -> str:
        owner = self.context.owner
        ident = f"u{owner.user_id}" if owner.user_id is not None else f"s{owner.session_key}"
        return f"chatkit_backend:throttle:{self.scope}:{ident}"


def throttle_wait(scope: str, request: HttpRequest, context: RequestContext) -> float | None:
    """Seconds to wait if this request is over the scope's rate, else ``None`` (counts it)."""
    if not (conf.THROTTLE_RATES or {}).get(scope):
        return None
    throttle = OwnerRateThrottle(scope, context)
    if throttle.allow_request(request, None):
        return None
    return throttle.wait() or 1.0
