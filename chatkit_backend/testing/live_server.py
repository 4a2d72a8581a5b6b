"""A real ASGI server for tests that need one: streaming, client disconnects, concurrency.

Django's test client drains a streaming response before the test sees it, so what a browser
sees of a stream (events as they come, a closed tab) needs a server. :class:`LiveASGIServer`
runs uvicorn in a thread of the test process, serving the site's Django ASGI application
with ChatKit's endpoints on the lean path (``with_chatkit``, as the README's asgi.py does) on
127.0.0.1 and a free port; the pytest plugin's ``live_asgi`` fixture starts one per session and
hands each test a :class:`LiveServer` (its URL, and clients for it). Needs ``uvicorn`` and
``httpx`` (the ``testing`` extra).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .client import ChatKitClient

if TYPE_CHECKING:
    import httpx

STARTUP_TIMEOUT = 10.0


def bearer_headers(user: Any) -> dict[str, str]:
    """``Authorization: Bearer`` for ``user``: a SimpleJWT access token, no CSRF needed."""
    from rest_framework_simplejwt.tokens import AccessToken

    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


class LiveASGIServer:
    """uvicorn serving ``application`` in a daemon thread (default: Django's ASGI handler
    wrapped in ``with_chatkit``, the application the README tells a site to deploy)."""

    def __init__(self, application: Any = None) -> None:
        import uvicorn
        from django.core.asgi import get_asgi_application

        from ..asgi import with_chatkit

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.host, self.port = self._socket.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        config = uvicorn.Config(
            application or with_chatkit(get_asgi_application()),
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
        import httpx

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


def close_server_connections() -> None:
    """End every other PostgreSQL session on the test database, so that it can be dropped:
    those a live server's worker threads left open (the threads are gone, their sessions
    linger until garbage collection) and those other threads keep (``CONN_MAX_AGE``)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
