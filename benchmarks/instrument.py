"""Server-side measurements for the benchmark site (loaded by ``bench_settings`` only).

- Every database connection the process opens gets an ``execute_wrapper`` that counts the
  statements it runs, whatever thread runs them (the ORM runs in ``sync_to_async`` threads,
  one per request under ASGI). ``GET /bench/queries`` answers the counts and the latest
  statements; the benchmark reads it before and after a series of sequential turns.
- ``ServerTimingMiddleware`` (first in MIDDLEWARE) adds ``Server-Timing: app;dur=<ms>``: the
  time from the first middleware until the response object exists. For JSON ops that is the
  whole server time; for streams it is the time until the headers.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, JsonResponse

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_recent: deque[str] = deque(maxlen=400)
_connections = 0


def _verb(sql: str) -> str:
    return (sql.lstrip().split(None, 1) or ["?"])[0].upper()


def _count(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    with _lock:
        _counts[_verb(sql)] += 1
        _recent.append(" ".join(sql.split())[:300])
    return execute(sql, params, many, context)


def _install(sender: Any, connection: Any, **kwargs: Any) -> None:
    global _connections
    with _lock:
        _connections += 1
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


connection_created.connect(_install, dispatch_uid="benchmarks.instrument")


def query_stats(request: HttpRequest) -> JsonResponse:
    """GET: statement counts so far; ``?recent=N`` adds the latest N statements."""
    recent = int(request.GET.get("recent", "0"))
    with _lock:
        body = {
            "total": sum(_counts.values()),
            "by_verb": dict(_counts),
            "connections_opened": _connections,
            "recent": list(_recent)[-recent:] if recent else [],
        }
    return JsonResponse(body)


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


class ServerTimingMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Any):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.3f}"
        return response
