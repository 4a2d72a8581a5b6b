"""Streaming one Agents run as ChatKit events, charging what it spends however it ends."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from agents import RunResultStreaming
from chatkit.agents import AgentContext, ResponseStreamConverter, stream_agent_response
from chatkit.types import ThreadStreamEvent

from ..turns import UsageMeter
from .store_ids import with_store_ids

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

logger = logging.getLogger(__name__)


async def stream_run(
    agent_context: AgentContext,
    result: RunResultStreaming,
    meter: UsageMeter,
    orchestrator: Orchestrator,
    converter: ResponseStreamConverter,
) -> AsyncIterator[ThreadStreamEvent]:
    """``stream_agent_response`` with our item ids, metered; the run stops when the stream
    does (a client that left, a failure), so it never spends for nobody."""
    context = agent_context.request_context
    turn = context.turn
    orchestrator.keep_usage(meter, context)  # the turn charges it, however the turn ends
    try:
        events = stream_agent_response(agent_context, result, converter=converter)
        async for event in with_store_ids(events, agent_context.generate_id):
            meter.observe(event)
            yield event
        # Not when the turn stopped it: a cancelled run ends its stream quietly too.
        meter.completed = turn is None or turn.stopped is None
    finally:
        # On a client disconnect (CancelledError) or any failure, stop the Agents run too:
        # otherwise it keeps calling the model, and spending, for nobody.
        if not result.is_complete:
            result.cancel()
        if turn is None:
            # Outside a turn (server code calling respond() itself), what the run spent is
            # recorded here; a turn records it when it ends.
            try:
                await orchestrator.record_usage(agent_context.thread, meter, context)
            except Exception:  # never hide the run's own outcome behind bookkeeping
                logger.exception("Could not record usage for thread %s", agent_context.thread.id)
