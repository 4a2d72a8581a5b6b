"""The provider factory: one place that turns the provider settings into a model."""

from __future__ import annotations

import asyncio
import weakref

from agents import Model, ModelProvider, set_tracing_export_api_key
from openai import AsyncOpenAI

from ..exceptions import ProviderConfigurationError
from .config import (
    GEMINI_BASE_URL,
    ProviderConfig,
    model_name_for,
    resolve_provider,
    tracing_enabled,
)
from .model_settings import ChatCompletionsModel, ResponsesModel
from .offline import OfflineModel

# OpenAI's client insists on a key; local servers (Ollama, vLLM, LM Studio) ignore it.
PLACEHOLDER_KEY = "not-needed"


# One client per event loop and configuration: clients pool connections, and an httpx pool
# must not outlive (or be shared across) the loop it was made on.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, AsyncOpenAI]] = (
    weakref.WeakKeyDictionary()
)


def _client(config: ProviderConfig, base_url: str | None) -> AsyncOpenAI:
    key = (config.api_key, base_url, config.timeout, config.max_retries)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    per_loop = _clients.setdefault(loop, {}) if loop is not None else {}
    client = per_loop.get(key)
    if client is None:
        client = AsyncOpenAI(
            api_key=config.api_key or PLACEHOLDER_KEY,
            base_url=base_url,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )
        per_loop[key] = client
    return client


def openai_client(config: ProviderConfig) -> AsyncOpenAI:
    """The OpenAI client for ``config`` on this event loop (dictation uses it)."""
    return _client(config, config.base_url)


def create_model(
    model_name: str | None = None,
    config: ProviderConfig | None = None,
    *,
    fit_implicit_settings: bool | None = None,
) -> Model:
    """Build the model for ``model_name`` (else ``LLM_MODEL``, else the provider's default).

    ``fit_implicit_settings``: replace the Agents SDK's implicit reasoning and verbosity
    settings with those that fit this model (see ``model_settings``). By default only when
    the factory picks the model; a model the user picked in the composer needs it too, since
    the agent's settings were made for another model.

    Raises :class:`ProviderConfigurationError` with a message that says what to set.
    """
    config = config or resolve_provider()
    problems = config.problems()
    if problems:
        raise ProviderConfigurationError(" ".join(problems))
    name = model_name_for(config, model_name)
    assert name is not None  # openai_compatible without a model is one of the problems
    if config.provider == "offline":
        return OfflineModel(name)
    # An agent that names its model has settings the SDK already fitted to that name.
    fit = model_name is None if fit_implicit_settings is None else fit_implicit_settings
    if config.provider == "openai":
        if config.api_key and tracing_enabled(config):
            set_tracing_export_api_key(config.api_key)
        return ResponsesModel(
            model=name,
            openai_client=_client(config, config.base_url),
            fit_implicit_settings=fit,
        )
    base_url = config.base_url or (GEMINI_BASE_URL if config.provider == "gemini" else None)
    return ChatCompletionsModel(
        model=name, openai_client=_client(config, base_url), fit_implicit_settings=fit
    )


class ChatKitModelProvider(ModelProvider):
    """Resolves every agent's model name (handoffs included) through :func:`create_model`.

    An agent that carries a ``Model`` instance (a ``ScriptedModel`` in tests) keeps it.
    """

    def __init__(self, config: ProviderConfig | None = None):
        self.config = config or resolve_provider()

    def get_model(self, model_name: str | None) -> Model:
        return create_model(model_name, self.config)
