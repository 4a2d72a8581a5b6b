"""Helpers for testing a site's ChatKit backend: protocol clients and agent overrides.

Add ``pytest_plugins = ["chatkit_backend.testing.pytest_plugin"]`` to your ``conftest.py`` for
the fixtures ``chatkit_user``, ``chatkit_client``, ``async_chatkit_client`` and
``scripted_model``.
"""

from .agents import override_agent, scripted_agent
from .client import (
    AsyncChatKitClient,
    ChatKitClient,
    ChatKitError,
    RawResponse,
    StreamResult,
    message_input,
    parse_sse,
    response_body,
)

__all__ = [
    "AsyncChatKitClient",
    "ChatKitClient",
    "ChatKitError",
    "RawResponse",
    "StreamResult",
    "message_input",
    "override_agent",
    "parse_sse",
    "response_body",
    "scripted_agent",
]
