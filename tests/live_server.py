"""A real ASGI server for the tests that need one: streaming, client disconnects, concurrency.

``live_asgi`` serves ``django.core.asgi.get_asgi_application()`` (settings ``tests.settings``)
with uvicorn in a thread of the test process, on 127.0.0.1 and a free port. One server runs for
the whole session; the function-scoped fixture hands it to a test together with a transactional
database (the server's threads need committed rows to see them, and the SQLite test database is
a file they share with the test).

Also here: ``SlowTextStream``, a ``ModelStep.stream`` factory that streams one assistant message
slowly and records how far it got, so a test can tell whether the model stream was stopped.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from agents.testing import ModelCall

from chatkit_backend.providers import events
from chatkit_backend.testing import ChatKitClient

STARTUP_TIMEOUT = 10.0


def bearer_headers(user: Any) -> dict[str, str]:
    """``Authorization: Bearer`` for ``user``: a SimpleJWT access token, no CSRF needed."""
    from rest_framework_simplejwt.tokens import AccessToken

    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


class LiveASGIServer:
    """uvicorn serving the Django ASGI application in a daemon thread."""

    def __init__(self) -> None:
        import uvicorn
        from django.core.asgi import get_asgi_application

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.host, self.port = self._socket.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        config = uvicorn.Config(
            get_asgi_application(),
            lifespan="off",
            log_config=None,  # leave the test process's logging alone
            access_log=False,
            # An abandoned stream must not hold up the end of the session.
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-asgi", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self._socket])
        except BaseException as error:  # pragma: no cover - reported by start()
            self._error = error

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The live ASGI server did not start: {self._error!r}")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@dataclass
class LiveServer:
    """What a test gets from ``live_asgi``: the URL and clients for it."""

    url: str
    _clients: list[httpx.Client] = field(default_factory=list)

    def http(self, user: Any = None, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on the server, authenticated as ``user`` when given."""
        headers = {
            **(bearer_headers(user) if user is not None else {}),
            **kwargs.pop("headers", {}),
        }
        # trust_env=False: a proxy from the environment must not come between us and 127.0.0.1.
        client = httpx.Client(
            base_url=self.url,
            headers=headers,
            trust_env=False,
            timeout=kwargs.pop("timeout", 10.0),
            **kwargs,
        )
        self._clients.append(client)
        return client

    def chatkit(self, user: Any) -> ChatKitClient:
        """A protocol client authenticated as ``user`` with a bearer token."""
        return ChatKitClient(self.http(user))

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture(scope="session")
def _live_asgi_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[LiveASGIServer]:
    # After django_db_setup: the server's connections must open the test database.
    server = LiveASGIServer()
    server.start()
    yield server
    server.stop()
    with django_db_blocker.unblock():
        _drop_server_connections()


def _drop_server_connections() -> None:
    """Close what the server's worker threads left open, so the test database can be dropped.

    Those threads are gone, but their PostgreSQL sessions linger until garbage collection.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def live_asgi(_live_asgi_server: LiveASGIServer, transactional_db: Any) -> Iterator[LiveServer]:
    """A real ASGI server (uvicorn, in a thread) serving the test site, and clients for it.

    Mark tests ``@pytest.mark.django_db(transaction=True)``: the server's threads only see
    committed rows.
    """
    live = LiveServer(_live_asgi_server.url)
    yield live
    live.close()


# -- a slow, observable model stream ---------------------------------------------------------


@dataclass
class SlowTextStream:
    """A ``ModelStep.stream`` factory: one assistant message, one delta every ``delay`` seconds.

    It records how many deltas it produced and how it ended, from the server's thread; read
    ``produced`` and wait on ``ended`` from the test.
    """

    deltas: list[str]
    delay: float = 0.05
    item_id: str = "msg_provider_1"
    produced: int = 0
    completed: bool = False
    closed_early: bool = False
    exit_reason: str | None = None
    delta_times: list[float] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def words(cls, count: int, delay: float = 0.05) -> SlowTextStream:
        return cls([f"word{index} " for index in range(count)], delay=delay)

    @property
    def full_text(self) -> str:
        return "".join(self.deltas)

    def _count(self, delta: str) -> None:
        self.produced += 1
        self.delta_times.append(time.monotonic())

    async def __call__(self, call: ModelCall) -> AsyncIterator[Any]:
        try:
            async for event in events.stream_output(
                [events.message(self.full_text, self.item_id)],
                model="scripted-model",
                tokens=events.usage(1, 1),
                deltas=lambda text: self.deltas,
                delay=self.delay,
                on_delta=self._count,
            ):
                yield event
            self.completed = True
        except (GeneratorExit, asyncio.CancelledError) as error:
            self.closed_early = True
            self.exit_reason = type(error).__name__
            raise
        finally:
            self.ended.set()
