"""The keys of ChatKit's optional features: titles by a model, the composer's model picker,
budget notices, dictation and entity tags (check ids from E170 on)."""

from __future__ import annotations

from .setting import Setting
from .validators import (
    a_callable,
    agent_or_factory,
    fraction,
    importable,
    integer,
    model_choices,
    optional,
    seconds,
    text,
)

FEATURE_SETTINGS: dict[str, Setting] = {
    # Titles written by a model: an agent (a dotted path to an Agent or a callable
    # (context) -> Agent), or just a model name for the built-in title agent. Neither: a new
    # thread's title is the first words of its first message (also offline and on failure).
    "TITLE_AGENT": Setting(
        None,
        importable,
        "Give a dotted path naming an Agent or a callable (context) -> Agent, or None.",
        170,
        expects=optional(agent_or_factory),
    ),
    "TITLE_MODEL": Setting(None, text, "Use a model name such as 'gpt-4.1-nano', or None.", 171),
    # Seconds the title model may take; past them the thread keeps the first-words title.
    "TITLE_TIMEOUT": Setting(15, seconds, "Use a number of seconds such as 15.", 172, coerce=float),
    # The models a user may pick in the composer (@openai/chatkit's composer.models options);
    # a message naming another model is refused. None: no picker, and no model may be named.
    "MODEL_CHOICES": Setting(
        None,
        model_choices,
        "List options such as [{'id': 'gpt-4.1-mini', 'label': 'Fast', 'default': True}], or None.",
        173,
    ),
    # The share of DAILY_TOKEN_BUDGET past which a turn's stream carries a warning notice
    # (once a day per owner); None for no warning.
    "DAILY_TOKEN_BUDGET_WARNING": Setting(
        0.8, fraction, "Use a share such as 0.8 (for 80%), or None.", 174
    ),
    # Dictation (input.transcribe): the OpenAI transcription model, and the largest audio
    # accepted, in bytes and in seconds (when the recording says how long it is).
    "TRANSCRIPTION_MODEL": Setting(
        "gpt-4o-mini-transcribe",
        text,
        "Use an OpenAI transcription model such as 'gpt-4o-mini-transcribe'.",
        175,
    ),
    "DICTATION_MAX_BYTES": Setting(
        180 * 1024, integer(1), "Use a whole number of bytes (the audio, decoded).", 176
    ),
    "DICTATION_MAX_SECONDS": Setting(
        60, seconds, "Use a number of seconds such as 60.", 177, coerce=float
    ),
    # Entity tags: a dotted path to a callable (query, context) -> list of entities for the
    # page's entities.onTagSearch, and one (entity, context) -> widget or None for its
    # entities.onRequestPreview. None: the endpoint answers 400 not_configured.
    "ENTITY_SEARCH": Setting(
        None,
        importable,
        "Give a dotted path to a callable (query, context) -> list of entities, such as "
        "'chatkit_backend.entities.search_threads', or None.",
        178,
        expects=optional(a_callable),
    ),
    "ENTITY_PREVIEW": Setting(
        None,
        importable,
        "Give a dotted path to a callable (entity, context) -> widget or None, such as "
        "'chatkit_backend.entities.preview_thread', or None.",
        179,
        expects=optional(a_callable),
    ),
}
