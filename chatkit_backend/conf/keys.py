"""Every ``CHATKIT_BACKEND`` key, declared once: its default, what a valid value is, the hint
that says how to fix a bad one, and the id of the system check that reports it."""

from __future__ import annotations

from typing import Any

from .features import FEATURE_SETTINGS
from .live import LIVE_SETTINGS
from .setting import Setting
from .validators import (
    agent_or_factory,
    boolean,
    http_url,
    importable,
    importable_list,
    integer,
    mime_types,
    one_of,
    origins,
    seconds,
    storage_alias,
    subclass_of,
    text,
    throttle_rates,
)

SETTINGS: dict[str, Setting] = {
    # Dotted path to a callable ``(context) -> agents.Agent``, or to an Agent. An Agent or a
    # callable may also be given directly (handy in tests).
    "AGENT": Setting(
        "chatkit_backend.reasoning.agents.default_agent",
        importable,
        "Give a dotted path such as 'myapp.agents.build_agent', naming an Agent or a callable "
        "(context) -> Agent.",
        101,
        expects=agent_or_factory,
    ),
    # Dotted path to the AccessPolicy subclass deciding which threads a request may touch.
    "ACCESS_POLICY": Setting(
        "chatkit_backend.access.AccessPolicy",
        importable,
        "Give the dotted path of a chatkit_backend.access.AccessPolicy subclass.",
        102,
        expects=subclass_of("chatkit_backend.access.AccessPolicy"),
    ),
    # Dotted path to the ChatKitServer subclass, the place to override action handlers.
    "SERVER_CLASS": Setting(
        "chatkit_backend.server.DjangoChatKitServer",
        importable,
        "Give the dotted path of a chatkit_backend.server.DjangoChatKitServer subclass.",
        103,
        expects=subclass_of("chatkit_backend.server.DjangoChatKitServer"),
    ),
    # DRF authentication classes tried in order on every request.
    "AUTHENTICATION_CLASSES": Setting(
        [
            "rest_framework.authentication.SessionAuthentication",
            "rest_framework_simplejwt.authentication.JWTAuthentication",
        ],
        importable_list,
        "List dotted paths of DRF authentication classes, such as "
        "'rest_framework.authentication.SessionAuthentication'.",
        104,
        expects=subclass_of("rest_framework.authentication.BaseAuthentication"),
    ),
    # Let requests without credentials in; each visitor then owns the threads of their session.
    "ALLOW_ANONYMOUS": Setting(False, boolean(), "Use True or False.", 105),
    # How many of the newest thread items are sent to the model as history on each turn.
    "HISTORY_LIMIT": Setting(50, integer(1), "Use a whole number such as 50.", 106),
    # Maximum number of characters of the first user message used as a new thread's title.
    "TITLE_MAX_LENGTH": Setting(60, integer(1), "Use a whole number such as 60.", 107),
    # Dotted path to the ThreadItemConverter subclass that turns stored items into model input.
    "HISTORY_CONVERTER": Setting(
        "chatkit_backend.reasoning.history.HistoryConverter",
        importable,
        "Give the dotted path of a chatkit.agents.ThreadItemConverter subclass, such as "
        "'chatkit_backend.reasoning.history.HistoryConverter'.",
        108,
        expects=subclass_of("chatkit.agents.ThreadItemConverter"),
    ),
    # Per-owner rate limits in DRF's form ("20/min"); None turns a scope off. "turns" counts
    # streaming ops (each calls the model), "requests" the JSON ops.
    "THROTTLE_RATES": Setting(
        {"turns": "30/min", "requests": "600/min"},
        throttle_rates,
        "For example {'turns': '30/min', 'requests': '600/min'}; None turns a scope off.",
        109,
    ),
    # Tokens one owner may spend per day (in TIME_ZONE), from the usage the Agents SDK
    # reports (or an estimate for turns that end early); None for no budget.
    "DAILY_TOKEN_BUDGET": Setting(
        None, integer(0, optional=True), "Use a whole number of tokens, or None.", 110
    ),
    # Tokens a turn reserves against DAILY_TOKEN_BUDGET before it starts, settled to what it
    # spent when it ends. Concurrent turns overshoot the budget by at most one reservation.
    "TURN_TOKEN_RESERVATION": Setting(
        4_000, integer(0), "Use a whole number of tokens, about what one turn costs.", 143
    ),
    # Seconds a turn's claim on its thread lasts unless renewed; a running turn renews it every
    # third of that. A worker that dies mid-turn leaves the thread claimed this long at most.
    "TURN_LEASE_SECONDS": Setting(
        30, seconds, "Use a number of seconds such as 30.", 144, coerce=float
    ),
    # Threads the store's database work runs on (``chatkit_backend.connections``), shared by
    # every request of the process. Each holds at most one connection per database at a time.
    "DATABASE_THREADS": Setting(
        16, integer(0), "Use a whole number such as 16 (0: on each request's own thread).", 145
    ),
    # How many reverse proxies in front of the site append the address they saw to
    # X-Forwarded-For. 0: the client address is the connection's (REMOTE_ADDR), and the
    # header, which anyone can send, is ignored. Anonymous visitors' limits count per address.
    "TRUSTED_PROXIES": Setting(
        0, integer(0), "Use the number of proxies in front of the site, such as 1 (0: none).", 135
    ),
    # Origins (scheme://host[:port]) whose browsers may call the API; None allows any origin
    # that CORS and CSRF let through. Requests without an Origin header are not affected.
    "ALLOWED_ORIGINS": Setting(
        None,
        origins,
        "List origins as browsers send them: scheme://host[:port], no path or trailing slash.",
        111,
    ),
    # Most characters one request may add to model input: a message's text, quoted text and
    # tags (their text and data, as the model reads them), a widget action's type and
    # payload, a client tool's result, structured input answers.
    "MAX_MESSAGE_CHARS": Setting(20_000, integer(1), "Use a whole number of characters.", 112),
    # Free-form JSON (request metadata, tag data, action payloads, client tool results): how
    # deep each value may nest, and how large it may be as JSON, in characters.
    "MAX_JSON_DEPTH": Setting(32, integer(1), "Use a whole number of levels such as 32.", 136),
    "MAX_JSON_CHARS": Setting(20_000, integer(1), "Use a whole number of characters.", 137),
    # JSON values (objects, arrays, strings, numbers...) one request body may hold, counted
    # before the body is validated: validation's time grows with it.
    "MAX_JSON_VALUES": Setting(10_000, integer(1), "Use a whole number such as 10000.", 138),
    # Refuse requests carrying fields the protocol does not define.
    "REJECT_UNKNOWN_FIELDS": Setting(True, boolean(), "Use True or False.", 113),
    # Attachments: stored through Django's storage API (an alias of settings.STORAGES, or the
    # default storage), metadata in the database. False turns the attachment ops off.
    "ATTACHMENTS": Setting(True, boolean(), "Use True or False.", 114),
    "ATTACHMENT_STORAGE": Setting(
        None,
        storage_alias,
        "Name an alias of settings.STORAGES, or None for the default storage.",
        115,
    ),
    "ATTACHMENT_MAX_BYTES": Setting(
        10 * 1024 * 1024, integer(1), "Use a whole number of bytes.", 116
    ),
    "ATTACHMENT_MAX_PER_MESSAGE": Setting(10, integer(1), "Use a whole number.", 117),
    # Per owner: bytes of uploaded files kept (attached or not; None for no quota), and
    # uploads not yet attached to a message.
    "ATTACHMENT_QUOTA_BYTES": Setting(
        200 * 1024 * 1024,
        integer(1, optional=True),
        "Use a whole number of bytes, or None for no quota.",
        139,
    ),
    "ATTACHMENT_MAX_PENDING": Setting(
        20, integer(1, optional=True), "Use a whole number such as 20, or None for no cap.", 140
    ),
    # Types accepted, checked against the file's own bytes (not only the client's claim).
    "ATTACHMENT_ALLOWED_TYPES": Setting(
        [
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
        mime_types,
        "List MIME types such as 'image/png' and 'application/pdf'.",
        118,
    ),
    # Two-phase uploads: the HTTP method the descriptor names (the SDK documents POST; our
    # endpoint takes POST and PUT, multipart or raw) and how long its URL works.
    "ATTACHMENT_UPLOAD_METHOD": Setting(
        "POST", one_of("POST", "PUT"), "Use 'POST' (what the SDK documents) or 'PUT'.", 119
    ),
    "ATTACHMENT_UPLOAD_URL_TTL": Setting(600, integer(1), "Use a whole number of seconds.", 120),
    # Point two-phase descriptors straight at the bucket when the storage can presign (S3
    # through django-storages): the bytes never pass through Django. They are checked (type,
    # size) when the attachment is first used or downloaded.
    "ATTACHMENT_PRESIGNED_UPLOADS": Setting(False, boolean(), "Use True or False.", 121),
    # How long a signed download / preview URL works, in seconds.
    "ATTACHMENT_URL_TTL": Setting(3600, integer(1), "Use a whole number of seconds.", 122),
    # What the model may read of a file: text up to this many characters, images and PDFs up
    # to this many bytes; larger or other files are described by name and type.
    "ATTACHMENT_MODEL_TEXT_CHARS": Setting(
        50_000, integer(0), "Use a whole number of characters (0: describe files only).", 123
    ),
    "ATTACHMENT_MODEL_MAX_BYTES": Setting(
        8 * 1024 * 1024, integer(0), "Use a whole number of bytes (0: describe files only).", 124
    ),
    # Upper bound on ``limit`` for threads.list and items.list.
    "MAX_PAGE_SIZE": Setting(100, integer(1), "Use a whole number such as 100.", 125),
    # Maximum request body accepted by the protocol endpoint, in bytes. Room for a message
    # of MAX_MESSAGE_CHARS astral characters sent as \u escapes (12 bytes each); raise it
    # with MAX_MESSAGE_CHARS, or for dictation (input.transcribe carries the audio).
    "MAX_REQUEST_BYTES": Setting(256 * 1024, integer(1), "Use a whole number of bytes.", 126),
    # Model provider configuration. ``None`` means: read the environment variable of the
    # same name. Settings win over the environment.
    "LLM_PROVIDER": Setting(
        None,
        text,
        "Use 'openai', 'gemini', 'openai_compatible' or 'offline' (or None: the environment).",
        127,
    ),
    "LLM_MODEL": Setting(None, text, "Use a model name such as 'gpt-4.1-mini', or None.", 128),
    "LLM_BASE_URL": Setting(
        None, http_url, "Use a URL such as 'http://127.0.0.1:11434/v1/', or None.", 129
    ),
    "OPENAI_API_KEY": Setting(None, text, "Use the key as a string, or None.", 130),
    "GEMINI_API_KEY": Setting(None, text, "Use the key as a string, or None.", 131),
    # Seconds before a provider request is abandoned, and how often the client retries.
    "LLM_TIMEOUT": Setting(60.0, seconds, "Use a number of seconds such as 60.", 132, coerce=float),
    "LLM_MAX_RETRIES": Setting(2, integer(0), "Use a whole number such as 2.", 133),
    # Export Agents SDK traces to OpenAI. ``None``: only when an OpenAI key is configured.
    "TRACING": Setting(None, boolean(optional=True), "Use True, False or None.", 134),
    # Days without activity after which ``chatkit_purge`` deletes a thread; None keeps
    # everything (the command then needs ``--older-than``).
    "RETENTION_DAYS": Setting(
        None, integer(1, optional=True), "Use a whole number of days, or None.", 141
    ),
    # The ChatKit widget's ``domainKey`` for this site's pages (any non-empty placeholder
    # works on localhost); ``chatkit_doctor`` checks it.
    "DOMAIN_KEY": Setting(None, text, "Use the key from OpenAI's domain allowlist, or None.", 142),
    **FEATURE_SETTINGS,
    **LIVE_SETTINGS,
}

DEFAULTS: dict[str, Any] = {name: setting.default for name, setting in SETTINGS.items()}

ENVIRONMENT_KEYS = ("LLM_PROVIDER", "LLM_MODEL", "LLM_BASE_URL", "OPENAI_API_KEY", "GEMINI_API_KEY")
