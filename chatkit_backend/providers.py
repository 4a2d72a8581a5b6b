"""The provider factory: one place that turns settings and environment into a model.

``LLM_PROVIDER`` picks the provider (``openai`` | ``gemini`` | ``openai_compatible`` |
``offline``); ``LLM_MODEL``, ``OPENAI_API_KEY``, ``GEMINI_API_KEY`` and ``LLM_BASE_URL``
complete it. Each may be set in ``CHATKIT_BACKEND`` (which wins) or in the environment. With
nothing set, the offline demo model answers, like Django's console email backend.
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agents import (
    Model,
    ModelProvider,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    set_tracing_export_api_key,
)
from agents.models import get_default_model_settings
from openai import AsyncOpenAI

from .conf import conf
from .exceptions import ProviderConfigurationError

PROVIDERS = ("openai", "gemini", "openai_compatible", "offline")
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai/"
DEFAULT_MODELS = {"openai": "gpt-4.1-mini", "gemini": "gemini-2.5-flash", "offline": "offline-demo"}
KEY_SETTING = {"openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}
# OpenAI's client insists on a key; local servers (Ollama, vLLM, LM Studio) ignore it.
PLACEHOLDER_KEY = "not-needed"


@dataclass(frozen=True)
class ProviderConfig:
    """The resolved provider settings. ``repr`` never shows the key."""

    provider: str
    model: str | None
    base_url: str | None
    api_key: str | None
    timeout: float
    max_retries: int

    def __repr__(self) -> str:
        return (
            f"ProviderConfig(provider={self.provider!r}, model={self.model!r}, "
            f"base_url={self.base_url!r}, api_key={'***' if self.api_key else None})"
        )

    @property
    def key_setting(self) -> str | None:
        """The setting or environment variable that holds this provider's key."""
        return KEY_SETTING.get(self.provider)

    def problems(self) -> list[str]:
        """What stops this configuration from working; empty when it can work."""
        if self.provider not in PROVIDERS:
            return [f"LLM_PROVIDER={self.provider!r} is not one of: {', '.join(PROVIDERS)}."]
        if self.key_setting and not self.api_key:
            return [f"LLM_PROVIDER={self.provider} needs {self.key_setting}."]
        if self.provider == "openai_compatible":
            problems = []
            if not self.base_url:
                problems.append("LLM_PROVIDER=openai_compatible needs LLM_BASE_URL.")
            if not self.model:
                problems.append("LLM_PROVIDER=openai_compatible needs LLM_MODEL.")
            return problems
        return []


def resolve_provider() -> ProviderConfig:
    """Read the provider settings (``CHATKIT_BACKEND`` first, then the environment)."""
    provider = (conf.LLM_PROVIDER or "").strip().lower()
    if not provider:
        if conf.OPENAI_API_KEY:
            provider = "openai"
        elif conf.GEMINI_API_KEY:
            provider = "gemini"
        else:
            provider = "offline"
    key_setting = KEY_SETTING.get(provider)
    return ProviderConfig(
        provider=provider,
        model=conf.LLM_MODEL,
        base_url=conf.LLM_BASE_URL,
        api_key=getattr(conf, key_setting) if key_setting else conf.OPENAI_API_KEY,
        timeout=float(conf.LLM_TIMEOUT),
        max_retries=int(conf.LLM_MAX_RETRIES),
    )


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


class FitsModelSettings:
    """Sends the reasoning and verbosity settings that fit the model actually used.

    An agent that names no model gets the Agents SDK's default ``ModelSettings``, made for the
    SDK's default model (a GPT-5 model in openai-agents 0.24): ``reasoning.effort`` and
    ``verbosity``, which other models refuse with HTTP 400. When the provider factory picks the
    model (``LLM_MODEL`` or the provider's default) and those two fields are still the SDK's
    implicit defaults, they become what the SDK gives the model in use: nothing for
    gpt-4.1-mini, Gemini or a local model, GPT-5's own defaults for a GPT-5 model. Settings an
    agent or a run sets itself are sent as set; so is everything when the agent names its
    model (the SDK then fits its defaults to that name).
    """

    model: str  # set by the model class this is mixed into

    def __init__(self, *args: Any, fit_implicit_settings: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fit_implicit_settings = fit_implicit_settings

    def fitted(self, settings: ModelSettings) -> ModelSettings:
        if not self.fit_implicit_settings:
            return settings
        implicit = get_default_model_settings()  # what an agent without a model starts with
        if (settings.reasoning, settings.verbosity) != (implicit.reasoning, implicit.verbosity):
            return settings
        fitting = get_default_model_settings(self.model)
        return dataclasses.replace(
            settings, reasoning=fitting.reasoning, verbosity=fitting.verbosity
        )

    async def get_response(
        self, system_instructions: Any, input: Any, model_settings: ModelSettings, *args, **kwargs
    ) -> Any:
        return await super().get_response(  # type: ignore[misc]
            system_instructions, input, self.fitted(model_settings), *args, **kwargs
        )

    def stream_response(
        self, system_instructions: Any, input: Any, model_settings: ModelSettings, *args, **kwargs
    ) -> Any:
        return super().stream_response(  # type: ignore[misc]
            system_instructions, input, self.fitted(model_settings), *args, **kwargs
        )


class ResponsesModel(FitsModelSettings, OpenAIResponsesModel):
    """The Agents SDK's Responses model, with settings that fit the model in use."""


class ChatCompletionsModel(FitsModelSettings, OpenAIChatCompletionsModel):
    """The Agents SDK's Chat Completions model, with settings that fit the model in use."""


def model_name_for(config: ProviderConfig, model_name: str | None = None) -> str | None:
    """The model a request names: ``model_name``, else ``LLM_MODEL``, else the default."""
    return model_name or config.model or DEFAULT_MODELS.get(config.provider)


def create_model(model_name: str | None = None, config: ProviderConfig | None = None) -> Model:
    """Build the model for ``model_name`` (else ``LLM_MODEL``, else the provider's default).

    Raises :class:`ProviderConfigurationError` with a message that says what to set.
    """
    config = config or resolve_provider()
    problems = config.problems()
    if problems:
        raise ProviderConfigurationError(" ".join(problems))
    name = model_name_for(config, model_name)
    assert name is not None  # openai_compatible without a model is one of the problems
    if config.provider == "offline":
        from .offline import OfflineModel

        return OfflineModel(name)
    # An agent that names its model has settings the SDK already fitted to that name.
    fit = model_name is None
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


def tracing_enabled(config: ProviderConfig | None = None) -> bool:
    """Traces go to OpenAI: only with an OpenAI key, unless ``TRACING`` says otherwise.

    ``LLM_PROVIDER=openai`` pointed at a proxy (``LLM_BASE_URL`` not on openai.com) carries the
    proxy's key, which must not be sent to OpenAI's trace endpoint.
    """
    if conf.TRACING is not None:
        return bool(conf.TRACING)
    config = config or resolve_provider()
    if config.provider != "openai" or not config.api_key:
        return False
    host = urlsplit(config.base_url).hostname if config.base_url else "api.openai.com"
    return bool(host) and (host == "openai.com" or host.endswith(".openai.com"))


class ChatKitModelProvider(ModelProvider):
    """Resolves every agent's model name (handoffs included) through :func:`create_model`.

    An agent that carries a ``Model`` instance (a ``ScriptedModel`` in tests) keeps it.
    """

    def __init__(self, config: ProviderConfig | None = None):
        self.config = config or resolve_provider()

    def get_model(self, model_name: str | None) -> Model:
        return create_model(model_name, self.config)
