"""The provider settings: which provider, model, endpoint and key, read from
``CHATKIT_BACKEND`` (which wins) or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..conf import conf

PROVIDERS = ("openai", "gemini", "openai_compatible", "offline")
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai/"
DEFAULT_MODELS = {"openai": "gpt-4.1-mini", "gemini": "gemini-2.5-flash", "offline": "offline-demo"}
KEY_SETTING = {"openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}


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
        timeout=conf.LLM_TIMEOUT,
        max_retries=conf.LLM_MAX_RETRIES,
    )


def model_name_for(config: ProviderConfig, model_name: str | None = None) -> str | None:
    """The model a request names: ``model_name``, else ``LLM_MODEL``, else the default."""
    return model_name or config.model or DEFAULT_MODELS.get(config.provider)


def tracing_enabled(config: ProviderConfig | None = None) -> bool:
    """Traces go to OpenAI: only with an OpenAI key, unless ``TRACING`` says otherwise.

    ``LLM_PROVIDER=openai`` pointed at a proxy (``LLM_BASE_URL`` not on openai.com) carries the
    proxy's key, which must not be sent to OpenAI's trace endpoint.
    """
    if conf.TRACING is not None:
        return conf.TRACING
    config = config or resolve_provider()
    if config.provider != "openai" or not config.api_key:
        return False
    host = urlsplit(config.base_url).hostname if config.base_url else "api.openai.com"
    return bool(host) and (host == "openai.com" or host.endswith(".openai.com"))
