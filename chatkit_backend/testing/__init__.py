"""Helpers for testing a site's ChatKit backend: protocol clients, agent overrides, a live
ASGI server, and Django's test client on the lean path (``LeanClient``).

Add ``pytest_plugins = ["chatkit_backend.testing.pytest_plugin"]`` to your ``conftest.py`` for
the fixtures ``chatkit_user``, ``chatkit_client``, ``async_chatkit_client``,
``scripted_model`` and ``live_asgi``.
"""

from .agents import override_agent, scripted_agent
from .client import AsyncChatKitClient, ChatKitClient
from .lean_client import LeanClient
from .live import live_socket, next_notice
from .live_server import LiveASGIServer, LiveServer
from .wire import (
    ChatKitError,
    RawResponse,
    StreamResult,
    message_input,
    parse_sse,
    response_body,
    text_deltas,
)

__all__ = [
    "AsyncChatKitClient",
    "ChatKitClient",
    "ChatKitError",
    "LeanClient",
    "LiveASGIServer",
    "LiveServer",
    "RawResponse",
    "StreamResult",
    "live_socket",
    "message_input",
    "next_notice",
    "override_agent",
    "parse_sse",
    "response_body",
    "scripted_agent",
    "text_deltas",
]
