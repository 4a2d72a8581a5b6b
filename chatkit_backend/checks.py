"""System checks: a setting that cannot work is reported at startup, with a hint."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .agents import load
from .conf import DEFAULTS, conf
from .providers import resolve_provider


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    messages: list[Any] = []
    raw = getattr(settings, "CHATKIT_BACKEND", {})
    if not isinstance(raw, dict):
        return [
            Error(
                "CHATKIT_BACKEND must be a dict.",
                hint="See the configuration reference in the README.",
                id="chatkit_backend.E001",
            )
        ]
    for key in sorted(conf.user_keys() - set(DEFAULTS)):
        messages.append(
            Warning(
                f"CHATKIT_BACKEND[{key!r}] is not a setting chatkit_backend knows.",
                hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
                id="chatkit_backend.W001",
            )
        )
    for key in ("AGENT", "SERVER_CLASS", "HISTORY_CONVERTER"):
        try:
            load(getattr(conf, key))
        except ImportError as error:
            messages.append(
                Error(
                    f"CHATKIT_BACKEND[{key!r}] cannot be imported: {error}",
                    hint="Give a dotted path such as 'myapp.agents.build_agent'.",
                    id="chatkit_backend.E002",
                )
            )
    for path in conf.AUTHENTICATION_CLASSES:
        try:
            load(path)
        except ImportError as error:
            messages.append(
                Error(
                    f"Authentication class {path!r} cannot be imported: {error}",
                    id="chatkit_backend.E003",
                )
            )
    if conf.ALLOW_ANONYMOUS and "django.contrib.sessions.middleware.SessionMiddleware" not in (
        settings.MIDDLEWARE
    ):
        messages.append(
            Error(
                "CHATKIT_BACKEND['ALLOW_ANONYMOUS'] scopes visitors by session, but "
                "SessionMiddleware is not installed.",
                id="chatkit_backend.E004",
            )
        )

    provider = resolve_provider()
    for problem in provider.problems():
        messages.append(
            Warning(
                f"The model provider cannot work: {problem}",
                hint="Chat answers with an error event until this is fixed. "
                "See 'Model providers' in the README.",
                id="chatkit_backend.W002",
            )
        )
    if provider.provider == "offline":
        messages.append(
            Warning(
                "No model provider is configured: the offline demo model answers every chat.",
                hint="Set OPENAI_API_KEY (or LLM_PROVIDER and its key) to use a real model.",
                id="chatkit_backend.W003",
            )
        )
    if getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False) and getattr(
        settings, "CORS_ALLOW_CREDENTIALS", False
    ):
        messages.append(
            Warning(
                "CORS_ALLOW_ALL_ORIGINS with CORS_ALLOW_CREDENTIALS lets any website call the "
                "ChatKit API with your users' cookies.",
                hint="List your frontends in CORS_ALLOWED_ORIGINS instead.",
                id="chatkit_backend.W004",
            )
        )
    return messages


# Limits read as whole numbers on every request: a wrong type would fail there, as a 500.
WHOLE_NUMBER_LIMITS = (
    "MAX_REQUEST_BYTES",
    "MAX_MESSAGE_CHARS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_CHARS",
    "MAX_JSON_VALUES",
    "TRUSTED_PROXIES",
)
OPTIONAL_LIMITS = ("ATTACHMENT_QUOTA_BYTES", "ATTACHMENT_MAX_PENDING")


@register(Tags.compatibility)
def check_limits(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    if not isinstance(getattr(settings, "CHATKIT_BACKEND", {}), dict):
        return []  # E001 says so
    messages = []
    for key in WHOLE_NUMBER_LIMITS + OPTIONAL_LIMITS:
        value = getattr(conf, key)
        if value is None and key in OPTIONAL_LIMITS:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            messages.append(
                Error(
                    f"CHATKIT_BACKEND[{key!r}] must be a whole number of 0 or more"
                    + (" or None" if key in OPTIONAL_LIMITS else "")
                    + f", not {value!r}.",
                    hint="See the Limits table in the README's Security section.",
                    id="chatkit_backend.E005",
                )
            )
    return messages
