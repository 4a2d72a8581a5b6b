"""The live socket (``chatkit/ws``) in your own async tests, with channels' communicator.

    from chatkit_backend.testing import live_socket, next_notice

    async def test_my_job_tells_the_page(chatkit_user):
        socket = await live_socket(chatkit_user)           # authenticated, after "ready"
        await my_job(thread_id)                            # e.g. threads.append_item(...)
        assert await next_notice(socket) == {
            "type": "thread.changed", "thread_id": thread_id, "reason": "items"}
        await socket.disconnect()

Needs a channel layer in the test settings (``CHANNEL_LAYERS``, the in-memory one is fine)
and ``@pytest.mark.django_db(transaction=True)``.
"""

from __future__ import annotations

import json
from typing import Any

ORIGIN = "http://testserver"


async def live_socket(
    user: Any = None, *, token: str | None = None, origin: str | None = ORIGIN
) -> Any:
    """A ``WebsocketCommunicator`` on ``chatkit/ws``, authenticated and past ``ready``: as
    ``user`` through a session cookie, or with a SimpleJWT access ``token`` (first frame)."""
    from asgiref.sync import sync_to_async
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator
    from django.conf import settings

    from ..routing import websocket_urlpatterns

    headers = [(b"origin", origin.encode())] if origin else []
    if user is not None:
        key = await sync_to_async(_session_for)(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode()))
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/chatkit/ws", headers)
    connected, _ = await socket.connect()
    if not connected:
        raise AssertionError("chatkit/ws refused the connection")
    if token is not None:
        await socket.send_json_to({"type": "auth", "token": token})
    frame = json.loads(await socket.receive_from(timeout=3))
    if frame != {"type": "ready"}:
        raise AssertionError(f"chatkit/ws answered {frame!r} instead of ready")
    return socket


def _session_for(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.session.session_key


async def next_notice(socket: Any, wait: float = 3.0) -> dict[str, Any]:
    """The next frame the socket receives (a ``thread.changed`` notice), as a dict."""
    return json.loads(await socket.receive_from(timeout=wait))
