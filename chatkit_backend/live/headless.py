"""Turns without a client: server code asks the agent to answer in a thread (a scheduled
follow-up, a webhook, a job that finished). Used through
:func:`chatkit_backend.threads.run_turn`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatkit.types import ThreadItem, ThreadStreamEvent

from ..conf import conf
from ..context import RequestContext


class HeadlessTurns:
    """What :class:`~chatkit_backend.server.DjangoChatKitServer` adds for turns that no client
    started: the same claim, budget, storage and notices as a turn from the widget."""

    async def respond_without_client(
        self: Any, thread_id: str, context: RequestContext, note: ThreadItem | None = None
    ) -> list[ThreadStreamEvent]:
        """Run one agent turn in ``thread_id`` as its owner; the events it produced.

        ``note`` (hidden context for the model, say) is stored first, once the thread is
        claimed.

        Raises ``NotFoundError``, ``TurnInProgress`` (a turn is running in the thread) or
        ``TurnRefused`` (the owner's budget is spent), having changed nothing.
        """
        turn = await self.store.begin_turn(
            thread_id,
            context,
            budget=conf.DAILY_TOKEN_BUDGET,
            reservation=conf.TURN_TOKEN_RESERVATION,
        )
        events: list[ThreadStreamEvent] = []

        async def produce() -> AsyncIterator[bytes]:
            if note is not None:
                await self.store.add_thread_item(thread_id, note, context)
            thread = await self.store.load_thread(thread_id, context)
            stream = self._process_events(
                thread, context, lambda: self.respond(thread, None, context)
            )
            async for event in stream:
                events.append(event)
                yield b""

        async for _chunk in self._run_turn(turn, produce(), context):
            pass  # _run_turn holds the claim, and settles the turn however it ends
        return events
