"""Rewriting provider item ids into store ids on the event stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from chatkit.types import (
    AssistantMessageItem,
    ClientToolCallItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)

# Items whose ids stream_agent_response copies from the provider's output.
PROVIDER_ITEMS = (AssistantMessageItem, ClientToolCallItem)


def _kind(item: AssistantMessageItem | ClientToolCallItem) -> str:
    return "message" if isinstance(item, AssistantMessageItem) else "tool_call"


async def with_store_ids(
    events: AsyncIterator[ThreadStreamEvent], new_id: Callable[[str], str]
) -> AsyncIterator[ThreadStreamEvent]:
    """Give every provider-made item an id of ours, the same on its added/updated/done events.

    Chat Completions providers (Gemini, LiteLLM, vLLM, Ollama...) stamp every output item with
    the placeholder ``__fake_id__``, and some servers reuse ids across responses;
    ``stream_agent_response`` copies them onto the assistant message, so each answer would
    overwrite the previous one. Ids made by our own store are already unique and pass through.
    """
    open_ids: dict[str, str] = {}  # provider id -> our id, while the item streams
    issued: dict[str, str] = {}  # every id we replaced, for removal events
    async for event in events:
        if isinstance(event, ThreadItemAddedEvent) and isinstance(event.item, PROVIDER_ITEMS):
            ours = new_id(_kind(event.item))
            open_ids[event.item.id] = issued[event.item.id] = ours
            event.item.id = ours
        elif isinstance(event, ThreadItemUpdatedEvent) and event.item_id in open_ids:
            event.item_id = open_ids[event.item_id]
        elif isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, PROVIDER_ITEMS):
            ours = open_ids.pop(event.item.id, None) or new_id(_kind(event.item))
            issued[event.item.id] = ours
            event.item.id = ours
        elif isinstance(event, ThreadItemRemovedEvent) and event.item_id in issued:
            event.item_id = issued[event.item_id]
        yield event
