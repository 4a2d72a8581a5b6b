"""Dictation through the provider factory: OpenAI's transcription endpoint.

``input.transcribe`` carries a recording from the composer's microphone button. With the
``openai`` provider (an OpenAI key; ``LLM_BASE_URL`` still points it at a proxy), the audio
goes to ``POST /v1/audio/transcriptions`` with ``TRANSCRIPTION_MODEL``, on the same client,
timeout and retries as chat. Other providers have no such endpoint in common: dictation is
not configured for them (a site can still override ``transcribe()`` in its server class).
"""

from __future__ import annotations

from ..conf import conf
from ..exceptions import ProviderConfigurationError
from .config import ProviderConfig, resolve_provider
from .factory import openai_client

# The file name the endpoint is sent, by media type: it reads the format from the extension.
EXTENSIONS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "mp4"}


def transcription_problem(config: ProviderConfig | None = None) -> str | None:
    """Why dictation cannot work with the configured provider, or ``None`` when it can."""
    config = config or resolve_provider()
    if config.provider != "openai":
        return (
            f"Dictation needs the OpenAI provider (an OpenAI key); this site uses "
            f"{config.provider}."
        )
    if not config.api_key:
        return "Dictation needs OPENAI_API_KEY."
    return None


async def transcribe_audio(
    data: bytes, media_type: str, config: ProviderConfig | None = None
) -> str:
    """The text spoken in ``data`` (``media_type``: ``audio/webm``, ``audio/ogg`` or
    ``audio/mp4``). Raises ``ProviderConfigurationError``, or the ``openai`` client's errors."""
    config = config or resolve_provider()
    problem = transcription_problem(config)
    if problem is not None:
        raise ProviderConfigurationError(problem)
    name = f"dictation.{EXTENSIONS.get(media_type, 'webm')}"
    result = await openai_client(config).audio.transcriptions.create(
        model=conf.TRANSCRIPTION_MODEL, file=(name, data, media_type)
    )
    return result.text
