"""Turning model provider failures into messages a user (and the site's developer) can act on.

Messages never contain the API key: they are built from the failure's kind, not echoed from
the provider's text, which sometimes quotes part of the key back. The provider's own text goes
to the server log only (:func:`provider_reason`), with anything resembling the key masked.
"""

from __future__ import annotations

from typing import Any

import openai
from agents.exceptions import MaxTurnsExceeded, ModelBehaviorError, UserError

from ..exceptions import ProviderConfigurationError
from .config import ProviderConfig


def describe_failure(error: BaseException, config: ProviderConfig) -> str | None:
    """A clear message for a provider or run failure, or ``None`` if it is not one."""
    where = f"The model provider ({config.provider})"
    # openai_compatible sends OPENAI_API_KEY when one is set (and a placeholder otherwise).
    key = config.key_setting or (
        "OPENAI_API_KEY" if config.provider == "openai_compatible" else "the API key"
    )
    if isinstance(error, ProviderConfigurationError):
        return f"The model provider is not configured: {error}"
    if isinstance(error, openai.AuthenticationError):
        return f"{where} rejected the API key (HTTP 401). Check {key} on the server."
    if isinstance(error, openai.PermissionDeniedError):
        return f"{where} refused access (HTTP 403). Check that {key} may use this model."
    if isinstance(error, openai.RateLimitError):
        return (
            f"{where} is rate limiting requests or the quota is used up (HTTP 429)."
            " Try again shortly."
        )
    if isinstance(error, openai.NotFoundError):
        return (
            f"{where} does not know the model or endpoint (HTTP 404). Check LLM_MODEL"
            " and LLM_BASE_URL."
        )
    if isinstance(error, openai.APITimeoutError):
        return f"{where} did not answer in time. Try again, or raise LLM_TIMEOUT."
    if isinstance(error, openai.APIConnectionError):
        return f"{where} could not be reached. Check LLM_BASE_URL and the server's network."
    if isinstance(error, openai.InternalServerError):
        return f"{where} had an internal error (HTTP {error.status_code}). Try again shortly."
    if isinstance(error, openai.APIStatusError):
        return (
            f"{where} refused the request (HTTP {error.status_code}). The server log has the "
            "provider's reason."
        )
    if isinstance(error, openai.APIError):
        # An error event in the middle of a stream (Chat Completions servers send one when
        # they fail after the 200); its text is the provider's, so it is not repeated.
        return f"{where} reported an error while answering. Try again shortly."
    if isinstance(error, MaxTurnsExceeded):
        return "The assistant took too many steps without finishing. Try rephrasing."
    if isinstance(error, ModelBehaviorError | UserError):
        return f"{where} returned something the agent could not use. Try again."
    return None


# A run of this many characters of the key in a provider's text is masked: providers quote
# keys back whole or in part ("Incorrect API key provided: sk-proj-****abcd").
KEY_FRAGMENT = 6
REASON_MAX_CHARS = 500


def mask_secret(text: str, secret: str | None) -> str:
    """``text`` with every run of ``KEY_FRAGMENT`` or more characters of ``secret`` masked."""
    if not secret or len(secret) < KEY_FRAGMENT:
        return text
    masked: list[str] = []
    start = 0
    while start < len(text):
        end = start
        while end < len(text) and text[start : end + 1] in secret:
            end += 1
        if end - start >= KEY_FRAGMENT:
            masked.append("***")
            start = end
        else:
            masked.append(text[start])
            start += 1
    return "".join(masked)


def _message_in(body: Any) -> str | None:
    # OpenAI answers {"error": {"message": ...}} (the client keeps the inner dict); Gemini's
    # OpenAI-compatible endpoint a list of such objects.
    if isinstance(body, list) and body:
        return _message_in(body[0])
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict | list):
            return _message_in(body["error"])
        message = body.get("message")
        return str(message) if message is not None else None
    return str(body) if body else None


def provider_reason(error: BaseException, config: ProviderConfig) -> str | None:
    """The provider's own account of an HTTP error, for the server log (never for users).

    ``"HTTP 400 (unsupported_parameter): Unsupported parameter: 'reasoning.effort'..."``, with
    any part of the configured key masked; ``None`` for failures that are not HTTP answers.
    """
    if not isinstance(error, openai.APIStatusError):
        return None
    message = _message_in(error.body) or error.message
    code = f" ({error.code})" if error.code else ""
    reason = f"HTTP {error.status_code}{code}: {' '.join(message.split())}"
    return mask_secret(reason[:REASON_MAX_CHARS], config.api_key)
