"""The live socket (``chatkit/ws``) in tests: communicators on the site's websocket routes."""

from __future__ import annotations

import base64
import json
from typing import Any

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from chatkit_backend.routing import websocket_urlpatterns

ORIGIN = "http://testserver"
WAIT = 3.0


def communicator(
    *, cookie: str | None = None, origin: str | None = ORIGIN
) -> WebsocketCommunicator:
    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/chatkit/ws", headers=headers)


async def connect(**kwargs: Any) -> WebsocketCommunicator:
    socket = communicator(**kwargs)
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    return socket


async def receive(socket: WebsocketCommunicator, wait: float = WAIT) -> dict[str, Any]:
    return json.loads(await socket.receive_from(timeout=wait))


async def closed_with(socket: WebsocketCommunicator, wait: float = WAIT) -> int:
    """The close code the server closed ``socket`` with (after any frames it sent)."""
    while True:
        message = await socket.receive_output(timeout=wait)
        if message["type"] == "websocket.close":
            return message.get("code", 1000)


async def ready(socket: WebsocketCommunicator) -> None:
    assert await receive(socket) == {"type": "ready"}


async def notices(
    socket: WebsocketCommunicator, quiet: float = 0.3, first: float = 2.0
) -> list[dict[str, Any]]:
    """Every frame the socket gets until it has been quiet for ``quiet`` seconds (``first``
    seconds for the first frame: a loaded machine may take a while to deliver it)."""
    frames = []
    wait = first
    while not await socket.receive_nothing(timeout=wait):
        frames.append(await receive(socket))
        wait = quiet
    return frames


def session_cookie(client: Any) -> str:
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def unsigned_token(user_id: Any) -> str:
    """A token with ``alg: none``: a valid-looking payload and no signature."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    payload = {"token_type": "access", "exp": 4_000_000_000, "jti": "x", "user_id": str(user_id)}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."
