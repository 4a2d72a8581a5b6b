"""A guardrail that trips: a notice the user can read, and a turn that ends cleanly.

The Agents SDK stops the run with ``InputGuardrailTripwireTriggered`` or
``OutputGuardrailTripwireTriggered``; ``stream_agent_response`` removes what the run had
streamed and raises it again. Left alone it would end the stream with a generic error event.
Instead the user gets a ``notice`` saying what happened, and the thread stays usable: the
model learns, in hidden context, that the previous message went unanswered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from agents import InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered
from chatkit.types import (
    NoticeEvent,
    SDKHiddenContextItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
)

from ..context import RequestContext

INPUT_BLOCKED = "The assistant cannot help with this message."
OUTPUT_BLOCKED = "The assistant's answer was withheld."


def readable_reason(output_info: Any) -> str | None:
    """What a guardrail says about why it tripped, if it says it in words.

    Guardrail functions return any ``output_info``: a string, a dict or an object with a
    ``message`` or ``reason`` (a pydantic model from a guardrail agent, say).
    """
    if isinstance(output_info, str):
        return output_info.strip() or None
    for key in ("message", "reason"):
        value = (
            output_info.get(key)
            if isinstance(output_info, dict)
            else getattr(output_info, key, None)
        )
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def tripped(
    error: InputGuardrailTripwireTriggered | OutputGuardrailTripwireTriggered,
    thread: ThreadMetadata,
    new_id: Callable[[Any, ThreadMetadata, RequestContext], str],
    context: RequestContext,
) -> Iterator[ThreadStreamEvent]:
    """The events that end a turn whose guardrail tripped."""
    result = error.guardrail_result
    name = result.guardrail.get_name()
    is_input = isinstance(error, InputGuardrailTripwireTriggered)
    reason = readable_reason(result.output.output_info)
    headline = INPUT_BLOCKED if is_input else OUTPUT_BLOCKED
    yield NoticeEvent(
        level="warning",
        title=headline,
        message=reason or f"It did not pass the `{name}` check. Try rephrasing it.",
    )
    what = "input" if is_input else "output"
    yield ThreadItemDoneEvent(
        item=SDKHiddenContextItem(
            id=new_id("sdk_hidden_context", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=f"The {what} guardrail {name} stopped the answer to the previous message; "
            "the user was told. Answer their next message as usual.",
        )
    )
