"""Step 1, ``basic``: the ChatKit protocol layer alone, no agent and no model.

ChatKit's server calls ``respond()`` for every turn and streams whatever events it yields to
the widget. Here ``respond()`` writes the answer itself, word by word, in the events a model's
answer would produce: an assistant message is *added*, its text arrives as *deltas*, and it is
*done* (the server stores it then). Everything else (auth, threads in the database, history,
uploads, rate limits) comes from ``DjangoChatKitServer``; the site points
``CHATKIT_BACKEND["SERVER_CLASS"]`` at this subclass.

Run it with ``EXAMPLE_AGENT=basic python manage.py runserver``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)

from chatkit_backend.context import RequestContext
from chatkit_backend.server import DjangoChatKitServer

LABEL = "**Ladder step 1 (basic): no agent, no model.**"


def text_of(message: UserMessageItem | None) -> str:
    """The words the user typed (``@``-tags and attachments left out)."""
    if message is None:
        return ""
    return " ".join(part.text for part in message.content if part.type == "input_text").strip()


def answer_to(text: str) -> str:
    if not text:
        return f"{LABEL} There is no new message to answer."
    words = len(text.split())
    return (
        f'{LABEL} This server\'s respond() wrote this answer itself. You said: "{text[:200]}" '
        f"({words} word{'s' if words != 1 else ''}). Set EXAMPLE_AGENT=agent for the next step."
    )


class BasicServer(DjangoChatKitServer):
    """A server that answers every message itself (see the module's docstring)."""

    async def respond(  # type: ignore[override]
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        text = text_of(input_user_message)
        if thread.title is None and text:
            # Changing the thread is enough: the server saves it and sends `thread.updated`.
            thread.title = text[:60]
        message = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        yield ThreadItemAddedEvent(item=message)
        yield ThreadItemUpdatedEvent(
            item_id=message.id,
            update=AssistantMessageContentPartAdded(
                content_index=0, content=AssistantMessageContent(text="")
            ),
        )
        answer = answer_to(text)
        for delta in re.findall(r"\S+\s*", answer):
            yield ThreadItemUpdatedEvent(
                item_id=message.id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta=delta),
            )
            await asyncio.sleep(0)  # let each delta go out on its own, as a model's would
        content = AssistantMessageContent(text=answer)
        yield ThreadItemUpdatedEvent(
            item_id=message.id,
            update=AssistantMessageContentPartDone(content_index=0, content=content),
        )
        yield ThreadItemDoneEvent(item=message.model_copy(update={"content": [content]}))
