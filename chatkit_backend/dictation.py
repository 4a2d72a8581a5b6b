"""``input.transcribe``: a recording is checked (size, type, length), then transcribed.

The composer's microphone button sends the recording whole, base64 in the request body (so
``MAX_REQUEST_BYTES`` bounds it too). ``DICTATION_MAX_BYTES`` bounds the audio itself, and
``DICTATION_MAX_SECONDS`` its length wherever the recording says how long it is (see
:mod:`chatkit_backend.audio`): nothing over them reaches the provider, which charges by
the minute.
"""

from __future__ import annotations

import logging

from chatkit.types import AudioInput, TranscriptionResult

from .audio import CONTAINERS, container_of, duration_of
from .conf import conf
from .exceptions import RequestError, Unsupported
from .providers import resolve_provider
from .providers.errors import describe_failure, provider_reason
from .providers.transcription import transcribe_audio, transcription_problem

logger = logging.getLogger(__name__)


class AudioRefused(RequestError):
    """A recording that may not be transcribed: 400, 413 (too long) or 415 (not audio)."""


def check_audio(audio: AudioInput) -> None:
    """Raise ``AudioRefused`` for a recording past the limits or not in a known format."""
    size = len(audio.data)
    if not size:
        raise AudioRefused("The recording is empty.", code="audio_empty")
    if size > conf.DICTATION_MAX_BYTES:
        limit = conf.DICTATION_MAX_BYTES // 1024
        raise AudioRefused(
            f"The recording is larger than {limit} KiB.", code="audio_too_large", status=413
        )
    expected = CONTAINERS.get(audio.media_type.strip().lower())
    if expected is None or container_of(audio.data[:12]) != expected:
        raise AudioRefused(
            f"Recordings of type {audio.mime_type or 'unknown'} cannot be transcribed: send "
            "audio/webm, audio/ogg or audio/mp4 as the type and the content.",
            code="audio_type",
            status=415,
        )
    seconds = duration_of(audio.data)
    if seconds is not None and seconds > conf.DICTATION_MAX_SECONDS:
        raise AudioRefused(
            f"The recording lasts {seconds:.0f} seconds; the limit is "
            f"{conf.DICTATION_MAX_SECONDS:g}.",
            code="audio_too_long",
            status=413,
        )


def dictation_available() -> bool:
    """Whether the built-in dictation can work with the configured provider."""
    return transcription_problem() is None


async def transcribe(audio: AudioInput) -> TranscriptionResult:
    """Transcribe a checked recording through the provider factory.

    Raises ``Unsupported`` (400 ``not_configured``) without the OpenAI provider,
    ``AudioRefused`` for a recording past the limits, and ``RequestError`` (502
    ``transcription_failed``, with a message that says what to fix) when the provider fails.
    """
    config = resolve_provider()
    problem = transcription_problem(config)
    if problem is not None:
        raise Unsupported(f"Dictation is not configured on this server. {problem}")
    check_audio(audio)
    try:
        text = await transcribe_audio(audio.data, audio.media_type, config)
    except Exception as error:
        message = describe_failure(error, config)
        if message is None:
            raise
        reason = provider_reason(error, config)
        if reason is not None:
            logger.warning("The transcription endpoint (%s) answered %s", config.provider, reason)
        raise RequestError(message, code="transcription_failed", status=502) from error
    return TranscriptionResult(text=text)
