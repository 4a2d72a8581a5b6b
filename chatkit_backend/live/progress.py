"""What a turn's answer goes through before the SDK stores and streams it.

- **A paused thread** (an operator took it over, :mod:`chatkit_backend.admin.operator`): the
  user's message is stored as usual, the model is not called, and the stream ends with a
  notice that a person will answer.
- **The growing answer is stored as it grows** when the run may outlive its client
  (``ON_DISCONNECT = "finish"``, or a turn started by server code): at most once every
  ``PROGRESS_SAVE_SECONDS``, not once per delta, under the message's own id, so a reload (or
  another tab) shows the partial answer and the final one replaces it in place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    NoticeEvent,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)

from ..conf import conf
from ..context import RequestContext

if TYPE_CHECKING:
    from ..store import DjangoStore

PAUSED_KEY = "chatkit_backend_paused"
"""Key of the thread's server-side metadata that holds the pause (who paused it, when)."""

PAUSED_NOTICE = "A person will answer this conversation soon."

Respond = Callable[
    [ThreadMetadata, UserMessageItem | None, RequestContext], AsyncIterator[ThreadStreamEvent]
]


def is_paused(thread: ThreadMetadata) -> bool:
    return bool((thread.metadata or {}).get(PAUSED_KEY))


def answer(
    respond: Respond,
    thread: ThreadMetadata,
    message: UserMessageItem | None,
    context: RequestContext,
    store: DjangoStore,
) -> AsyncIterator[ThreadStreamEvent]:
    """``respond``'s events, with the two rules above."""
    if is_paused(thread):
        return _paused()
    events = respond(thread, message, context)
    if conf.ON_DISCONNECT == "finish" or context.request is None:
        return _saving_progress(events, thread, store, context)
    return events


async def _paused() -> AsyncIterator[ThreadStreamEvent]:
    yield NoticeEvent(level="info", message=PAUSED_NOTICE)


def _apply(item: AssistantMessageItem, update: Any) -> bool:
    """Apply a content update to ``item``; whether it changed."""
    if not isinstance(
        update,
        AssistantMessageContentPartAdded
        | AssistantMessageContentPartTextDelta
        | AssistantMessageContentPartDone,
    ):
        return False
    while len(item.content) <= update.content_index:
        item.content.append(AssistantMessageContent(text=""))
    if isinstance(update, AssistantMessageContentPartTextDelta):
        item.content[update.content_index].text += update.delta
    else:
        item.content[update.content_index] = update.content.model_copy(deep=True)
    return True


async def _saving_progress(
    events: AsyncIterator[ThreadStreamEvent],
    thread: ThreadMetadata,
    store: DjangoStore,
    context: RequestContext,
) -> AsyncIterator[ThreadStreamEvent]:
    loop = asyncio.get_running_loop()
    every = conf.PROGRESS_SAVE_SECONDS
    growing: dict[str, AssistantMessageItem] = {}  # answers streamed, not yet done
    changed: set[str] = set()
    saved_at = loop.time()
    async for event in events:
        if isinstance(event, ThreadItemAddedEvent) and isinstance(event.item, AssistantMessageItem):
            growing[event.item.id] = event.item.model_copy(deep=True)
        elif isinstance(event, ThreadItemUpdatedEvent) and event.item_id in growing:
            if _apply(growing[event.item_id], event.update):
                changed.add(event.item_id)
        elif isinstance(event, ThreadItemDoneEvent | ThreadItemReplacedEvent):
            growing.pop(event.item.id, None)  # the SDK stores the item itself
            changed.discard(event.item.id)
        elif isinstance(event, ThreadItemRemovedEvent):
            growing.pop(event.item_id, None)
            changed.discard(event.item_id)
        if changed and loop.time() - saved_at >= every:
            for item_id in sorted(changed):
                # Written now: the turn holds its other writes for its last hop.
                await store.save_progress(thread.id, growing[item_id], context)
            changed.clear()
            saved_at = loop.time()
        yield event
