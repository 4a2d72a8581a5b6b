"""The app's settings: one dict, ``settings.CHATKIT_BACKEND``, read on every access.

Reading lazily (rather than freezing values into module constants at import time) is what
makes ``override_settings`` and pytest-django's ``settings`` fixture work in users' tests.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings as django_settings

DEFAULTS: dict[str, Any] = {
    # Dotted path to a callable ``(context) -> agents.Agent``, or to an Agent. An Agent or a
    # callable may also be given directly (handy in tests).
    "AGENT": "chatkit_backend.agents.default_agent",
    # Dotted path to the AccessPolicy subclass deciding which threads a request may touch.
    "ACCESS_POLICY": "chatkit_backend.access.AccessPolicy",
    # Dotted path to the ChatKitServer subclass, the place to override action handlers.
    "SERVER_CLASS": "chatkit_backend.server.DjangoChatKitServer",
    # DRF authentication classes tried in order on every request.
    "AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    # Let requests without credentials in; each visitor then owns the threads of their session.
    "ALLOW_ANONYMOUS": False,
    # How many of the newest thread items are sent to the model as history on each turn.
    "HISTORY_LIMIT": 50,
    # Maximum number of characters of the first user message used as a new thread's title.
    "TITLE_MAX_LENGTH": 60,
    # Dotted path to the ThreadItemConverter subclass that turns stored items into model input.
    "HISTORY_CONVERTER": "chatkit_backend.history.HistoryConverter",
    # Per-owner rate limits in DRF's form ("20/min"); None turns a scope off. "turns" counts
    # streaming ops (each calls the model), "requests" the JSON ops.
    "THROTTLE_RATES": {"turns": "30/min", "requests": "600/min"},
    # Tokens one owner may spend per day (in TIME_ZONE), from the usage the Agents SDK
    # reports (or an estimate for turns that end early); None for no budget.
    "DAILY_TOKEN_BUDGET": None,
    # Tokens a turn reserves against DAILY_TOKEN_BUDGET before it starts, settled to what it
    # spent when it ends. Concurrent turns overshoot the budget by at most one reservation.
    "TURN_TOKEN_RESERVATION": 4_000,
    # Seconds a turn's claim on its thread lasts unless renewed; a running turn renews it every
    # third of that. A worker that dies mid-turn leaves the thread claimed this long at most.
    "TURN_LEASE_SECONDS": 30,
    # Origins (scheme://host[:port]) whose browsers may call the API; None allows any origin
    # that CORS and CSRF let through. Requests without an Origin header are not affected.
    "ALLOWED_ORIGINS": None,
    # Longest user message accepted, in characters.
    "MAX_MESSAGE_CHARS": 20_000,
    # Refuse requests carrying fields the protocol does not define.
    "REJECT_UNKNOWN_FIELDS": True,
    # Attachments: stored through Django's storage API (an alias of settings.STORAGES, or the
    # default storage), metadata in the database. False turns the attachment ops off.
    "ATTACHMENTS": True,
    "ATTACHMENT_STORAGE": None,
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "ATTACHMENT_MAX_PER_MESSAGE": 10,
    # Types accepted, checked against the file's own bytes (not only the client's claim).
    "ATTACHMENT_ALLOWED_TYPES": [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
    ],
    # Two-phase uploads: the HTTP method the descriptor names and how long its URL works.
    "ATTACHMENT_UPLOAD_METHOD": "PUT",
    "ATTACHMENT_UPLOAD_URL_TTL": 600,
    # Point two-phase descriptors straight at the bucket when the storage can presign (S3
    # through django-storages): the bytes never pass through Django. They are checked (type,
    # size) when the attachment is first used or downloaded.
    "ATTACHMENT_PRESIGNED_UPLOADS": False,
    # How long a signed download / preview URL works, in seconds.
    "ATTACHMENT_URL_TTL": 3600,
    # What the model may read of a file: text up to this many characters, images and PDFs up
    # to this many bytes; larger or other files are described by name and type.
    "ATTACHMENT_MODEL_TEXT_CHARS": 50_000,
    "ATTACHMENT_MODEL_MAX_BYTES": 8 * 1024 * 1024,
    # Upper bound on ``limit`` for threads.list and items.list.
    "MAX_PAGE_SIZE": 100,
    # Maximum request body accepted by the protocol endpoint, in bytes.
    "MAX_REQUEST_BYTES": 1_000_000,
    # Model provider configuration. ``None`` means: read the environment variable of the
    # same name. Settings win over the environment.
    "LLM_PROVIDER": None,
    "LLM_MODEL": None,
    "LLM_BASE_URL": None,
    "OPENAI_API_KEY": None,
    "GEMINI_API_KEY": None,
    # Seconds before a provider request is abandoned, and how often the client retries.
    "LLM_TIMEOUT": 60.0,
    "LLM_MAX_RETRIES": 2,
    # Export Agents SDK traces to OpenAI. ``None``: only when an OpenAI key is configured.
    "TRACING": None,
}

ENVIRONMENT_KEYS = ("LLM_PROVIDER", "LLM_MODEL", "LLM_BASE_URL", "OPENAI_API_KEY", "GEMINI_API_KEY")


class Settings:
    """Attribute access to ``CHATKIT_BACKEND`` with defaults, evaluated on every access."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown chatkit_backend setting {name!r}")
        user = getattr(django_settings, "CHATKIT_BACKEND", None) or {}
        if name in user and not (name in ENVIRONMENT_KEYS and user[name] is None):
            return user[name]
        if name in ENVIRONMENT_KEYS:
            value = os.environ.get(name, "").strip()
            return value or None
        return DEFAULTS[name]

    def user_keys(self) -> set[str]:
        """The keys a site set in ``CHATKIT_BACKEND`` (checked for typos by a system check)."""
        return set(getattr(django_settings, "CHATKIT_BACKEND", None) or {})


conf = Settings()
