"""The model providers: one factory that turns settings and environment into a model.

``LLM_PROVIDER`` picks the provider (``openai`` | ``gemini`` | ``openai_compatible`` |
``offline``); ``LLM_MODEL``, ``OPENAI_API_KEY``, ``GEMINI_API_KEY`` and ``LLM_BASE_URL``
complete it. Each may be set in ``CHATKIT_BACKEND`` (which wins) or in the environment. With
nothing set, the offline demo model answers, like Django's console email backend.

- ``config``: reading those settings (``ProviderConfig``, ``resolve_provider``);
- ``factory``: ``create_model`` and the ``ChatKitModelProvider`` every run uses;
- ``model_settings``: model classes that send only the settings the model in use accepts;
- ``errors``: provider failures as messages a user can act on;
- ``offline``: the offline demo model; ``events``: Responses stream events for local models.
"""

from .config import ProviderConfig, model_name_for, resolve_provider, tracing_enabled
from .factory import ChatKitModelProvider, create_model

__all__ = [
    "ChatKitModelProvider",
    "ProviderConfig",
    "create_model",
    "model_name_for",
    "resolve_provider",
    "tracing_enabled",
]
