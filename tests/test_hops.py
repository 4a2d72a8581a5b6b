"""Thread hops per request on the lean path, pinned like the query budget: a change that adds
one fails here.

A thread hop (``sync_to_async``) hands the request to a worker thread and back: ~0.1 ms idle,
~0.6 ms at ten clients on two cores, where it waits for the GIL. Counted over real HTTP, on
the application users deploy (``with_chatkit``), from the request's first byte to its last.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from agents.testing import assistant_message
from asgiref.sync import SyncToAsync

pytestmark = pytest.mark.django_db(transaction=True)

TURN_HOPS = 3
NEW_THREAD_HOPS = 3
JSON_OP_HOPS = 1


@contextmanager
def counted_hops(monkeypatch) -> Iterator[Counter]:
    """Count ``sync_to_async`` calls in the whole process (the live server's included), by
    the function each one runs."""
    hops: Counter = Counter()
    lock = threading.Lock()
    original = SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        with lock:
            hops[getattr(self.func, "__qualname__", repr(self.func))] += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting)
    try:
        yield hops
    finally:
        monkeypatch.setattr(SyncToAsync, "__call__", original)


def test_a_turn_in_an_existing_thread(live_asgi, chatkit_user, model, monkeypatch):
    api = live_asgi.chatkit(chatkit_user)
    model.enqueue([assistant_message("first")])
    thread_id = api.create_thread("start").thread_id
    model.enqueue([assistant_message("second")])
    with counted_hops(monkeypatch) as hops:
        result = api.send(thread_id, "a plain turn")
    assert result.errors == [] and result.assistant_text == "second"
    assert sum(hops.values()) <= TURN_HOPS, hops


def test_a_new_thread(live_asgi, chatkit_user, model, monkeypatch):
    api = live_asgi.chatkit(chatkit_user)
    model.enqueue([assistant_message("hello")])
    with counted_hops(monkeypatch) as hops:
        result = api.create_thread("start")
    assert result.errors == [] and result.assistant_text == "hello"
    assert sum(hops.values()) <= NEW_THREAD_HOPS, hops


def test_a_json_op(live_asgi, chatkit_user, model, monkeypatch):
    api = live_asgi.chatkit(chatkit_user)
    model.enqueue([assistant_message("first")])
    thread_id = api.create_thread("start").thread_id
    with counted_hops(monkeypatch) as hops:
        page = api.list_items(thread_id)
    assert len(page.data) == 2
    assert sum(hops.values()) <= JSON_OP_HOPS, hops


def test_the_other_reads(live_asgi, chatkit_user, model, monkeypatch):
    api = live_asgi.chatkit(chatkit_user)
    model.enqueue([assistant_message("first")])
    thread_id = api.create_thread("start").thread_id
    with counted_hops(monkeypatch) as hops:
        assert api.get_thread(thread_id).id == thread_id
        assert [thread.id for thread in api.list_threads().data] == [thread_id]
    assert sum(hops.values()) <= 2 * JSON_OP_HOPS, hops


def test_turns_start_no_thread_and_keep_their_sqlite_connections(
    live_asgi, chatkit_user, model, monkeypatch
):
    """The store's hops run on its pool: after the first turn, later turns start no thread
    (Django would start one per request), and on SQLite open no connection (the pool's
    threads keep theirs); on PostgreSQL each hop hands its connection back."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    api = live_asgi.chatkit(chatkit_user)
    model.enqueue([assistant_message("first")])
    thread_id = api.create_thread("start").thread_id
    started: list[str] = []
    opened: list[str] = []
    original_start = threading.Thread.start

    def counting_start(self):
        started.append(self.name)
        return original_start(self)

    def count_connection(sender, connection, **kwargs):
        opened.append(threading.current_thread().name)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    connection_created.connect(count_connection)
    try:
        for text in ("two", "three", "four"):
            model.enqueue([assistant_message(text)])
            assert api.send(thread_id, text).assistant_text == text
    finally:
        connection_created.disconnect(count_connection)
    assert started == []
    if connection.vendor == "sqlite":
        assert opened == []
    else:  # three hops a turn, each borrowing a connection and handing it back
        assert len(opened) == 3 * TURN_HOPS
        assert all(name.startswith("chatkit-db") for name in opened), opened


def test_a_connection_opened_before_serving_costs_requests_no_hop(chatkit_user, monkeypatch):
    """Start-up code that queried the database on the main thread (an ``AppConfig.ready``)
    leaves its mark in the context every request inherits; a request still closes its
    response without a hop when it opened no connection on its own thread."""
    import asyncio
    import contextvars

    import httpx
    from django.core.asgi import get_asgi_application

    from chatkit_backend import connections
    from chatkit_backend.asgi import with_chatkit
    from chatkit_backend.testing.live_server import bearer_headers

    application = with_chatkit(get_asgi_application())

    async def list_threads() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(
                "/chatkit/api",
                json={"type": "threads.list", "params": {}},
                headers=bearer_headers(chatkit_user),
            )

    def serve() -> httpx.Response:
        connections.connection_opened(connection=None)  # as a query on the main thread does
        with counted_hops(monkeypatch) as hops:
            response = asyncio.run(list_threads())
        assert sum(hops.values()) <= JSON_OP_HOPS, hops
        return response

    assert contextvars.Context().run(serve).status_code == 200


def test_a_hop_leaves_no_event_loop_behind():
    """A notice published from a hop is handed to the loop that waits for the hop; after
    the hop that loop may be gone (a sync caller's ``async_to_sync`` closes its own), so
    synchronous code that publishes later must not find it and hand its notice to nobody."""
    from asgiref.sync import async_to_sync

    from chatkit_backend.connections import calling_event_loop, database_hop

    seen = async_to_sync(database_hop(calling_event_loop))()
    assert seen is not None and seen.is_closed()
    assert calling_event_loop() is None
