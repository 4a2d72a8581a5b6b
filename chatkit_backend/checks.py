"""System checks: a setting that cannot work is reported at startup, with a hint.

Every ``CHATKIT_BACKEND`` key has its own check id (``chatkit_backend.E101`` onwards, listed
with the keys in :mod:`chatkit_backend.conf`): its type, range and format, and for dotted
paths that they import and name the right kind of object.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import ENVIRONMENT_KEYS, SETTINGS, conf
from .providers import resolve_provider

PROVIDER_KEYS = {*ENVIRONMENT_KEYS, "LLM_TIMEOUT", "LLM_MAX_RETRIES", "TRACING"}


def unknown_key(key: str) -> Warning:
    close = difflib.get_close_matches(key, SETTINGS, n=1)
    hint = (
        f"Did you mean {close[0]!r}?"
        if close
        else f"Known settings: {', '.join(sorted(SETTINGS))}."
    )
    return Warning(
        f"CHATKIT_BACKEND[{key!r}] is not a setting chatkit_backend knows.",
        hint=hint,
        id="chatkit_backend.W001",
    )


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    raw = getattr(settings, "CHATKIT_BACKEND", {})
    if not isinstance(raw, dict):
        return [
            Error(
                "CHATKIT_BACKEND must be a dict.",
                hint="See the configuration reference in the README.",
                id="chatkit_backend.E001",
            )
        ]
    messages: list[Any] = [unknown_key(key) for key in sorted(conf.user_keys() - set(SETTINGS))]
    broken = set()
    for name, setting in SETTINGS.items():
        error = conf.error(name)
        if error is not None:
            broken.add(name)
            messages.append(Error(error.problem, hint=error.hint, id=setting.check_id))

    if (
        "ALLOW_ANONYMOUS" not in broken
        and conf.ALLOW_ANONYMOUS
        and "django.contrib.sessions.middleware.SessionMiddleware" not in settings.MIDDLEWARE
    ):
        messages.append(
            Error(
                "CHATKIT_BACKEND['ALLOW_ANONYMOUS'] scopes visitors by session, but "
                "SessionMiddleware is not installed.",
                id="chatkit_backend.E004",
            )
        )
    if not broken & PROVIDER_KEYS:
        messages.extend(provider_warnings())
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


def provider_warnings() -> list[Any]:
    provider = resolve_provider()
    messages: list[Any] = [
        Warning(
            f"The model provider cannot work: {problem}",
            hint="Chat answers with an error event until this is fixed. "
            "See 'Model providers' in the README.",
            id="chatkit_backend.W002",
        )
        for problem in provider.problems()
    ]
    if provider.provider == "offline":
        messages.append(
            Warning(
                "No model provider is configured: the offline demo model answers every chat.",
                hint="Set OPENAI_API_KEY (or LLM_PROVIDER and its key) to use a real model.",
                id="chatkit_backend.W003",
            )
        )
    return messages
