"""Working on threads from server code, outside any ChatKit request.

An operator's reply from the admin, a background job's result, a notice from another system:
append it with :func:`append_item` and it is stored exactly like items from a chat turn (and
announced through :data:`~chatkit_backend.signals.thread_changed`, so the owner's open pages
hear of it on the live socket). :func:`run_turn` lets the agent answer without a client.
"""

from __future__ import annotations

from datetime import datetime

from asgiref.sync import sync_to_async
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    HiddenContextItem,
    ThreadItem,
    ThreadStreamEvent,
)

from . import models
from .context import Owner, RequestContext
from .ids import generate_id
from .reasoning.handoffs import forget_active_agent
from .store import DjangoStore


def owner_context(thread_id: str) -> RequestContext:
    """A request context acting as the thread's owner (raises NotFoundError if none)."""
    row = models.Thread.objects.filter(id=thread_id).values("owner_id", "session_key").first()
    if row is None:
        raise NotFoundError(f"Thread {thread_id} not found")
    if row["owner_id"] is not None:
        return RequestContext(owner=Owner(user_id=row["owner_id"]))
    return RequestContext(owner=Owner(session_key=row["session_key"]))


async def append_item(thread_id: str, item: ThreadItem) -> None:
    """Store ``item`` in the thread (an upsert by item id), as its owner would."""
    context = await sync_to_async(owner_context)(thread_id)
    await DjangoStore().add_thread_item(thread_id, item, context)


async def append_assistant_message(thread_id: str, text: str) -> AssistantMessageItem:
    """Append an assistant message with ``text`` (an operator's reply, say) and return it."""
    item = AssistantMessageItem(
        id=generate_id("message"),
        thread_id=thread_id,
        created_at=datetime.now(),
        content=[AssistantMessageContent(text=text)],
    )
    await append_item(thread_id, item)
    return item


async def reset_agent(thread_id: str) -> bool:
    """Send the thread's next turn to the root agent (after a handoff), as its owner would.

    Returns whether the thread was talking to another agent. The page can do the same with
    the custom action ``chatkit_backend.reset_agent``.
    """
    context = await sync_to_async(owner_context)(thread_id)
    store = DjangoStore()
    thread = await store.load_thread(thread_id, context)
    if not forget_active_agent(thread):
        return False
    await store.save_thread(thread, context)
    return True


async def run_turn(thread_id: str, instructions: str | None = None) -> list[ThreadStreamEvent]:
    """Let the agent answer in ``thread_id`` now, without a client (a scheduled follow-up, a
    webhook, a job that finished); returns the turn's events.

    ``instructions``, when given, are added first as hidden context (the model reads them,
    the user never sees them). The turn is claimed, budgeted, stored and announced like one
    from the widget; its answer is stored as it grows. Raises ``NotFoundError``,
    ``TurnInProgress`` or ``TurnRefused`` (the owner's budget is spent).
    """
    from .server import get_server  # the server imports this module's neighbours

    context = await sync_to_async(owner_context)(thread_id)
    note = None
    if instructions:
        note = HiddenContextItem(
            id=generate_id("message"),
            thread_id=thread_id,
            created_at=datetime.now(),
            content=instructions,
        )
    return await get_server().respond_without_client(thread_id, context, note)
