"""Turning model provider failures into messages a user (and the site's developer) can act on.

Messages never contain the API key: they are built from the failure's kind, not echoed from
the provider's text, which sometimes quotes part of the key back.
"""

from __future__ import annotations

import openai
from agents.exceptions import MaxTurnsExceeded, ModelBehaviorError, UserError

from .exceptions import ProviderConfigurationError
from .providers import ProviderConfig


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
        return f"{where} refused the request (HTTP {error.status_code})."
    if isinstance(error, openai.APIError):
        # An error event in the middle of a stream (Chat Completions servers send one when
        # they fail after the 200); its text is the provider's, so it is not repeated.
        return f"{where} reported an error while answering. Try again shortly."
    if isinstance(error, MaxTurnsExceeded):
        return "The assistant took too many steps without finishing. Try rephrasing."
    if isinstance(error, ModelBehaviorError | UserError):
        return f"{where} returned something the agent could not use. Try again."
    return None
