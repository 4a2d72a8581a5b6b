"""A new thread's title: written by a model beside the first answer, or its first words.

With ``TITLE_AGENT`` or ``TITLE_MODEL`` set, a title agent runs at the same time as the first
answer (it never delays it) and the title reaches the client as ``thread.updated`` once it is
ready. With neither, with the offline demo model, or when the title agent fails or takes
longer than ``TITLE_TIMEOUT``, the title is the first words of the first message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from agents import Agent, Model, RunConfig, Runner, RunResultStreaming
from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTagContent,
)

from ..conf import conf
from ..context import RequestContext
from ..providers import ProviderConfig
from ..turns import UsageMeter
from .agents import resolve_agent

logger = logging.getLogger(__name__)

TITLE_INSTRUCTIONS = (
    "Write a short title, at most six words, for a conversation that starts with the user's "
    "message. Answer with the title alone: no quotes, no final full stop. Use the language "
    "of the message."
)
# The first message as the title agent reads it: enough to say what it is about.
TITLE_INPUT_CHARS = 2000


def message_text(message: UserMessageItem) -> str:
    text = " ".join(
        (part.text if not isinstance(part, UserMessageTagContent) else f"@{part.text}")
        for part in message.content
    )
    return " ".join(text.split())


def shorten(text: str, max_length: int) -> str | None:
    """``text`` on one line, cut at a word boundary to ``max_length`` characters."""
    text = " ".join(text.split())
    if not text:
        return None
    if len(text) <= max_length:
        return text
    cut = text[: max_length - 1].rsplit(" ", 1)[0] or text[: max_length - 1]
    return cut.rstrip(",.;:") + "…"


def make_title(message: UserMessageItem, max_length: int) -> str | None:
    """The first words of a message, cut at a word boundary."""
    return shorten(message_text(message), max_length)


def clean_title(answer: Any, max_length: int) -> str | None:
    """A title agent's answer as a title: its first line, without quotes or a full stop."""
    lines = str(answer or "").strip().splitlines()
    title = lines[0].strip().strip("\"'“”«»*#").strip().rstrip(".") if lines else ""
    return shorten(title, max_length)


async def title_agent(context: RequestContext) -> Agent[Any] | None:
    """``TITLE_AGENT`` (resolved like ``AGENT``), else the built-in title agent on
    ``TITLE_MODEL``, else ``None``: titles are first words."""
    target = conf.imported("TITLE_AGENT")
    if target is not None:
        return await resolve_agent(target, context)
    if conf.TITLE_MODEL:
        return Agent(name="Title writer", instructions=TITLE_INSTRUCTIONS, model=conf.TITLE_MODEL)
    return None


def needs_provider(agent: Agent[Any]) -> bool:
    """Whether the agent's model comes from the provider factory (it has no Model of its own)."""
    return not isinstance(agent.model, Model)


async def run_title_agent(
    agent: Agent[Any],
    text: str,
    run_config: RunConfig,
    meter_for: Callable[[RunResultStreaming], UsageMeter],
) -> str | None:
    """Run ``agent`` on the first message's ``text``; its title, or ``None`` on failure.

    ``meter_for`` makes the run's usage meter, so what the title costs is charged and
    recorded like the answer (a usage row of its own).
    """
    result = Runner.run_streamed(agent, text[:TITLE_INPUT_CHARS], run_config=run_config)
    meter = meter_for(result)
    try:
        async with asyncio.timeout(conf.TITLE_TIMEOUT):
            async for event in result.stream_events():
                delta = getattr(getattr(event, "data", None), "delta", None)
                if event.type == "raw_response_event" and isinstance(delta, str):
                    # Counted like an answer's text, for the estimate if the run is cut short.
                    update = AssistantMessageContentPartTextDelta(content_index=0, delta=delta)
                    meter.observe(ThreadItemUpdatedEvent(item_id="title", update=update))
        meter.completed = True
        return clean_title(result.final_output, conf.TITLE_MAX_LENGTH)
    except Exception as error:  # a title is never worth failing a turn over
        logger.warning("The title agent failed (%s): using the first words", type(error).__name__)
        return None
    finally:
        if not result.is_complete:
            result.cancel()


class PendingTitle:
    """A title being written beside the first answer, and the first words to fall back on."""

    def __init__(self, writing: Awaitable[str | None], fallback: str | None):
        self.task: asyncio.Task[str | None] = asyncio.ensure_future(writing)
        self.fallback = fallback
        self.applied = False

    def apply(self, thread: ThreadMetadata, title: str | None) -> None:
        if not self.applied and thread.title is None:
            # The server saves the thread and sends thread.updated after the next event.
            thread.title = title or self.fallback
        self.applied = True

    def settle(self, thread: ThreadMetadata) -> None:
        """Give the thread its title if the title agent has finished (call after each event)."""
        if not self.applied and self.task.done() and not self.task.cancelled():
            self.apply(thread, self.task.result())

    async def finish(self, thread: ThreadMetadata) -> None:
        """Wait for the title (``TITLE_TIMEOUT`` bounds it) once the answer is complete."""
        if not self.applied:
            self.apply(thread, await self.task)

    def abandon(self, thread: ThreadMetadata) -> None:
        """The turn failed: stop writing, and fall back to the first words."""
        self.cancel()
        self.apply(thread, None)

    def cancel(self) -> None:
        if not self.task.done():
            self.task.cancel()


class TitleWriting:
    """The orchestrator's part in titling a new thread (mixed into ``Orchestrator``)."""

    def start_title(
        self,
        thread: ThreadMetadata,
        message: UserMessageItem | None,
        context: RequestContext,
        provider: ProviderConfig,
    ) -> PendingTitle | None:
        """Title a new thread: its first words now, or a title agent's title beside the
        answer."""
        if thread.title is not None or message is None:
            return None
        fallback = make_title(message, conf.TITLE_MAX_LENGTH)
        if not (conf.TITLE_AGENT or conf.TITLE_MODEL):
            # The server saves the thread and tells the client once the first event passes.
            thread.title = fallback
            return None
        return PendingTitle(
            self.write_title(message_text(message), thread, context, provider), fallback
        )

    async def write_title(
        self,
        text: str,
        thread: ThreadMetadata,
        context: RequestContext,
        provider: ProviderConfig,
    ) -> str | None:
        """The title agent's title for a first message, or ``None`` (use the first words)."""
        try:
            agent = await title_agent(context)
        except Exception:  # a broken TITLE_AGENT never fails the turn (check E170 reports it)
            logger.exception("TITLE_AGENT could not be resolved: using the first words")
            return None
        if agent is None or (provider.provider == "offline" and needs_provider(agent)):
            return None
        meters: list[UsageMeter] = []

        def meter_for(result: RunResultStreaming) -> UsageMeter:
            meters.append(self.usage_meter(agent, [text], result, provider))
            self.keep_usage(meters[0], context)
            return meters[0]

        config = self.run_config(provider)
        title = await run_title_agent(agent, text, config, meter_for)
        if context.turn is None and meters:  # outside a turn, nobody else records it
            await self.record_usage(thread, meters[0], context)
        return title
