"""Building Responses API stream events for local models.

The offline demo model streams with these, and so can a test's or a benchmark's model: the
Agents SDK and ``stream_agent_response`` then see exactly what a real provider would send.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any

from agents.items import TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)


def text_part(text: str) -> ResponseOutputText:
    return ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])


def message(text: str, item_id: str | None = None) -> ResponseOutputMessage:
    """A finished assistant message (a fresh ``msg_`` id unless one is given)."""
    return ResponseOutputMessage(
        id=item_id or f"msg_{secrets.token_hex(8)}",
        type="message",
        role="assistant",
        status="completed",
        content=[text_part(text)],
    )


def usage(input_tokens: int, output_tokens: int) -> ResponseUsage:
    return ResponseUsage.model_validate(
        {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        }
    )


def response(output: Sequence[Any], *, model: str, tokens: ResponseUsage | None) -> Response:
    return Response(
        id=f"resp_{secrets.token_hex(8)}",
        created_at=0,
        model=model,
        object="response",
        output=list(output),
        tool_choice="auto",
        tools=[],
        top_p=None,
        parallel_tool_calls=False,
        status="completed",
        usage=tokens,
    )


async def stream_output(
    output: Sequence[Any],
    *,
    model: str,
    tokens: ResponseUsage | None = None,
    deltas: Callable[[str], Iterable[str]] = lambda text: [text],
    delay: float = 0.0,
    on_delta: Callable[[str], None] | None = None,
) -> AsyncIterator[TResponseStreamEvent]:
    """The full event stream of a response whose output items are ``output``.

    Messages stream their text as ``deltas(text)`` (one event each, ``delay`` seconds apart,
    ``on_delta`` called before each); other items (function calls) arrive whole.
    """
    final = response(output, model=model, tokens=tokens)
    seq: Iterator[int] = iter(range(1_000_000))
    pending = final.model_copy(update={"output": [], "status": "in_progress", "usage": None})
    yield ResponseCreatedEvent(type="response.created", response=pending, sequence_number=next(seq))
    for index, item in enumerate(output):
        added = item
        if isinstance(item, ResponseOutputMessage):
            added = item.model_copy(update={"content": [], "status": "in_progress"})
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            item=added,
            output_index=index,
            sequence_number=next(seq),
        )
        if isinstance(item, ResponseOutputMessage):
            text = "".join(p.text for p in item.content if isinstance(p, ResponseOutputText))
            async for event in text_events(
                item.id, index, text, seq, deltas=deltas(text), delay=delay, on_delta=on_delta
            ):
                yield event
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            item=item,
            output_index=index,
            sequence_number=next(seq),
        )
    yield ResponseCompletedEvent(
        type="response.completed", response=final, sequence_number=next(seq)
    )


async def text_events(
    item_id: str,
    index: int,
    text: str,
    seq: Iterator[int],
    *,
    deltas: Iterable[str],
    delay: float,
    on_delta: Callable[[str], None] | None,
) -> AsyncIterator[TResponseStreamEvent]:
    """The content events of one message: its part added, each of ``deltas``, then done."""
    common = {"item_id": item_id, "output_index": index, "content_index": 0}
    yield ResponseContentPartAddedEvent(
        type="response.content_part.added",
        part=text_part(""),
        sequence_number=next(seq),
        **common,
    )
    for number, delta in enumerate(deltas):
        if delay and number:
            await asyncio.sleep(delay)
        if on_delta is not None:
            on_delta(delta)
        yield ResponseTextDeltaEvent(
            type="response.output_text.delta",
            delta=delta,
            logprobs=[],
            sequence_number=next(seq),
            **common,
        )
    yield ResponseTextDoneEvent(
        type="response.output_text.done",
        text=text,
        logprobs=[],
        sequence_number=next(seq),
        **common,
    )
    yield ResponseContentPartDoneEvent(
        type="response.content_part.done",
        part=text_part(text),
        sequence_number=next(seq),
        **common,
    )
