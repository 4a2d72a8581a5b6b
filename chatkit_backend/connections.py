"""Handing a request's database connection back, and telling the lean handler it was.

A request's synchronous work runs on a worker thread of its own, whose connection opens with
its first query. Django closes it when the response is closed (``request_finished``), in one
more thread hop. A turn's last hop closes it itself instead and says so here; the lean
handler (:mod:`chatkit_backend.asgi.handler`) then closes the response without a hop.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db import connections

# Set in a hop's thread; asgiref carries context variables back to the awaiting coroutine.
_released: ContextVar[bool] = ContextVar("chatkit_backend.connections_released", default=False)


def release_connections(*, postgresql_only: bool = False) -> None:
    """Close this thread's connections unless they are to be kept (``CONN_MAX_AGE``) or in a
    transaction; note whether none is left open. Call it at the end of synchronous code.

    ``postgresql_only``: hand back PostgreSQL connections only (a pool, or the server's
    connection limit, wants them back while a model talks; a SQLite connection is kept for
    the whole turn, as reopening it costs more than holding it).
    """
    for connection in connections.all(initialized_only=True):
        if postgresql_only and connection.vendor != "postgresql":
            continue
        # Never inside a transaction: closing would doom it (a test's, or the caller's).
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
    _released.set(all(conn.connection is None for conn in connections.all(initialized_only=True)))


def connections_released() -> bool:
    """Whether the request's last database work handed its connection back (and none was
    opened since)."""
    return _released.get()


def connection_opened(**kwargs: Any) -> None:
    """``connection_created`` receiver: a connection opened since the last release (connected
    in ``AppConfig.ready``)."""
    _released.set(False)
