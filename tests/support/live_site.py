"""A real ASGI server for the live tests: HTTP and the ``chatkit/ws`` socket in one uvicorn
(in a thread of the test process, like ``live_asgi``), and a socket client that collects
the notices it gets in a thread of its own."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from chatkit_backend.testing import LiveASGIServer, LiveServer
from chatkit_backend.testing.live_server import close_server_connections


def site_application() -> Any:
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.core.asgi import get_asgi_application

    from chatkit_backend.routing import websocket_urlpatterns

    return ProtocolTypeRouter(
        {"http": get_asgi_application(), "websocket": URLRouter(websocket_urlpatterns)}
    )


@pytest.fixture(scope="module")
def live_site_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[LiveASGIServer]:
    server = LiveASGIServer(site_application())
    server.start()
    yield server
    server.stop()
    with django_db_blocker.unblock():
        close_server_connections()


@pytest.fixture
def live_site(live_site_server: LiveASGIServer, transactional_db: Any) -> Iterator[LiveServer]:
    live = LiveServer(live_site_server.url)
    yield live
    live.close()


class Listener:
    """A socket on ``ws_url`` authenticated with ``token``; ``frames`` fills as notices come."""

    def __init__(self, ws_url: str, token: str) -> None:
        self.socket = connect(f"{ws_url}/chatkit/ws", open_timeout=10)
        self.socket.send(json.dumps({"type": "auth", "token": token}))
        first = json.loads(self.socket.recv(timeout=10))
        assert first == {"type": "ready"}, first
        self.frames: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        try:
            for message in self.socket:
                self.frames.append(json.loads(message))
                self.arrivals.append(time.monotonic())
        except ConnectionClosed:
            pass

    def wait_for(self, frame: dict[str, Any], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while frame not in self.frames:
            assert time.monotonic() < deadline, f"never received {frame}: {self.frames}"
            time.sleep(0.02)

    def about(self, thread_id: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame.get("thread_id") == thread_id]

    def close(self) -> None:
        self.socket.close()
        self._thread.join(timeout=5)


def ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http")
