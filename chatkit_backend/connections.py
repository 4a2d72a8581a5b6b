"""Where the store's database work runs, and how long its connections live.

A request's database work runs in thread hops (``sync_to_async``). Django gives each request
a worker thread of its own (``ThreadSensitiveContext``): a thread started and joined per
request, and a database connection opened and closed per request with it (on SQLite about
half a millisecond of CPU, with the site's ``init_command``). The store's hops run on a
shared pool of threads instead (:func:`database_hop`, ``DATABASE_THREADS`` of them), and each
pool thread keeps its connection between hops as ``CONN_MAX_AGE`` allows, as a threaded WSGI
server's threads do. A SQLite connection is kept whatever ``CONN_MAX_AGE`` says: it holds no
server resource, and reopening it costs more than holding it. Connections to a database
server are handed back at the end of every hop unless ``CONN_MAX_AGE`` keeps them: a pool
(or the server's connection limit) wants them back while a model talks.

Work that is not the store's (a session saved, Django's own ``request_finished``) still runs
on the request's own thread, which is started only if something runs there. The lean handler
(:mod:`chatkit_backend.asgi.handler`) closes a response without a hop when nothing opened a
connection on it (:func:`connections_released`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

from .conf import conf

P = ParamSpec("P")
R = TypeVar("R")

THREAD_NAME = "chatkit-db"

# Set when a connection opens on a thread outside the pool (the request's own thread);
# asgiref carries context variables back from a hop to the awaiting coroutine.
_request_thread_connection: ContextVar[bool] = ContextVar(
    "chatkit_backend.request_thread_connection", default=False
)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def database_executor() -> ThreadPoolExecutor:
    """The pool the store's hops run on: made on first use, with ``DATABASE_THREADS``
    threads as the setting was then."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=conf.DATABASE_THREADS, thread_name_prefix=THREAD_NAME
            )
        return _executor


def _forget_executor() -> None:
    # A forked worker (a server that preloads the app) has none of its parent's threads.
    global _executor, _executor_lock
    _executor, _executor_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_executor)


def in_pool_thread() -> bool:
    return threading.current_thread().name.startswith(THREAD_NAME)


def database_hop(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``sync_to_async(func)`` on the store's pool: ``func``'s database work, then its
    connections handed back as :func:`release_connections` says.

    A hop must finish its transactions: the next hop may run on another thread. With
    ``DATABASE_THREADS = 0`` (or inside :func:`hops_on_request_thread`) hops run on the
    request's own thread, as Django runs synchronous code.
    """

    @functools.wraps(func)
    def run_and_release(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            release_connections()

    if _on_request_thread or not conf.DATABASE_THREADS:
        call = sync_to_async(run_and_release)
    else:
        call = sync_to_async(run_and_release, thread_sensitive=False, executor=database_executor())

    async def hop(*args: P.args, **kwargs: P.kwargs) -> R:
        # Copied into the hop's thread with the rest of the context; only for this hop.
        token = _event_loop.set(asyncio.get_running_loop())
        try:
            return await call(*args, **kwargs)
        finally:
            _event_loop.reset(token)

    return hop


# The loop a hop was called from, for work the hop hands back to it without waiting.
_event_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar(
    "chatkit_backend.event_loop", default=None
)


def calling_event_loop() -> asyncio.AbstractEventLoop | None:
    """In a hop (:func:`database_hop`), the event loop that waits for it; else None."""
    return _event_loop.get()


_on_request_thread = False


@contextlib.contextmanager
def hops_on_request_thread() -> Iterator[None]:
    """Run the store's hops on the request's own thread meanwhile, as ``DATABASE_THREADS =
    0`` does: for a test wrapped in a transaction (Django's ``TestCase``, pytest-django's
    ``db``), whose rows only its own connection sees. The pytest plugin
    (``chatkit_backend.testing.pytest_plugin``) does it for such tests."""
    global _on_request_thread
    before, _on_request_thread = _on_request_thread, True
    try:
        yield
    finally:
        _on_request_thread = before


def release_connections() -> None:
    """Close this thread's connections that are not to be kept (``CONN_MAX_AGE``, and a
    pool thread's SQLite connection always kept), unless in a transaction (a test's, or the
    caller's: closing would doom it)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
    if not in_pool_thread() and all(
        conn.connection is None for conn in connections.all(initialized_only=True)
    ):
        _request_thread_connection.set(False)


def new_request() -> None:
    """Start a request's record of connections opened on its own thread: none yet, whatever
    the code that ran before it (start-up code that queried the database on the main thread)
    left in the context the request inherits. The lean handler calls it first."""
    _request_thread_connection.set(False)


def connections_released() -> bool:
    """Whether no connection is open on the request's own thread (none was opened there, or
    the last work there handed it back)."""
    return not _request_thread_connection.get()


def connection_opened(connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver (connected in ``AppConfig.ready``)."""
    if not in_pool_thread():
        _request_thread_connection.set(True)
    elif connection.vendor == "sqlite":
        connection.close_at = None  # kept by the pool thread (see the module's docstring)
