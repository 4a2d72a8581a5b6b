"""Server-side measurements for the benchmark site (loaded by ``bench_settings`` only).

- Every database connection the process opens gets an ``execute_wrapper`` that counts the
  statements it runs, whatever thread runs them (the ORM runs in ``sync_to_async`` threads,
  one per request under ASGI). ``GET /bench/queries`` answers the counts and the latest
  statements; the benchmark reads it before and after a series of sequential turns.
- Thread hops (``sync_to_async`` calls) of ``/chatkit/`` requests are counted the same way.
- ``ServerTiming`` (an ASGI wrapper around either application, see ``bench_asgi``) adds
  ``Server-Timing: app;dur=<ms>``: the time from the request's arrival until its response
  starts. For JSON ops that is the whole server time; for streams it is the time until the
  headers.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from contextvars import ContextVar
from typing import Any

from asgiref.sync import SyncToAsync
from django.db.backends.signals import connection_created
from django.http import HttpRequest, JsonResponse

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
            "hops": _hops,
            "recent": list(_recent)[-recent:] if recent else [],
        }
    return JsonResponse(body)


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


_in_chatkit: ContextVar[bool] = ContextVar("bench_in_chatkit", default=False)
_hops = 0
_original_call = SyncToAsync.__call__


async def _counting_call(self: Any, *args: Any, **kwargs: Any) -> Any:
    if _in_chatkit.get():
        global _hops
        with _lock:
            _hops += 1
    return await _original_call(self, *args, **kwargs)


# Benchmark-only: every sync_to_async call a ChatKit request makes (Django's and ours).
SyncToAsync.__call__ = _counting_call  # type: ignore[method-assign]


class ServerTiming:
    """ASGI wrapper (outermost, for every variant alike): ``Server-Timing: app;dur=<ms>``, the
    time from the request's arrival until its response starts (for JSON ops, the whole server
    time; for streams, the time until the headers). Marks ``/chatkit/`` requests, whose
    thread hops ``/bench/queries`` counts."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        _in_chatkit.set(scope["path"].startswith("/chatkit/"))

        async def timed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                duration = f"app;dur={(time.perf_counter() - start) * 1000:.3f}"
                headers = [*message.get("headers", []), (b"server-timing", duration.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)
