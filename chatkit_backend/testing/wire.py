"""What the endpoint answers, parsed with chatkit's own pydantic types: the client's view of
the wire (SSE frames into events, a streamed answer into a :class:`StreamResult`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ErrorEvent,
    ThreadCreatedEvent,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)
from pydantic import TypeAdapter

EVENT_ADAPTER: TypeAdapter[ThreadStreamEvent] = TypeAdapter(ThreadStreamEvent)


class ChatKitError(AssertionError):
    """The endpoint answered with an error status where success was expected."""

    def __init__(self, status: int, body: bytes):
        self.status = status
        self.body = body
        try:
            self.error = json.loads(body).get("error", {})
        except (ValueError, AttributeError):
            self.error = {}
        super().__init__(f"HTTP {status}: {body[:500]!r}")


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def is_stream(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/event-stream")


def parse_sse(content: bytes) -> list[ThreadStreamEvent]:
    """Parse ``data: <json>`` frames into chatkit events (strictly: a bad frame raises)."""
    events = []
    for frame in content.split(b"\n\n"):
        frame = frame.strip()
        if not frame:
            continue
        if not frame.startswith(b"data: "):
            raise ValueError(f"Not an SSE data frame: {frame[:200]!r}")
        events.append(EVENT_ADAPTER.validate_json(frame[len(b"data: ") :]))
    return events


def text_deltas(events: Iterable[ThreadStreamEvent]) -> list[str]:
    """The assistant's text in ``events`` as it streamed, one entry per delta event."""
    return [
        event.update.delta
        for event in events
        if isinstance(event, ThreadItemUpdatedEvent)
        and isinstance(event.update, AssistantMessageContentPartTextDelta)
    ]


@dataclass
class StreamResult:
    """A streamed answer, parsed."""

    events: list[ThreadStreamEvent]
    response: RawResponse
    thread_id: str | None = None
    items: list[ThreadItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        for event in self.events:
            if isinstance(event, ThreadCreatedEvent):
                self.thread_id = event.thread.id
            elif isinstance(event, ThreadItemDoneEvent):
                self.items.append(event.item)

    @property
    def errors(self) -> list[ErrorEvent]:
        return [event for event in self.events if isinstance(event, ErrorEvent)]

    @property
    def assistant_messages(self) -> list[AssistantMessageItem]:
        return [item for item in self.items if isinstance(item, AssistantMessageItem)]

    @property
    def text_deltas(self) -> list[str]:
        """The assistant's text as it streamed, one entry per delta event."""
        return text_deltas(self.events)

    @property
    def assistant_text(self) -> str:
        """The text of every finished assistant message, joined by blank lines."""
        return "\n\n".join(
            "".join(part.text for part in message.content) for message in self.assistant_messages
        )


def message_input(
    text: str, attachments: Iterable[str] = (), **inference_options: Any
) -> dict[str, Any]:
    """A ``UserMessageInput`` as JSON."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": list(attachments),
        "inference_options": inference_options,
    }


def response_body(response: Any) -> bytes:
    """The whole body of a Django test response, streaming or not, async iterator or not."""
    if not response.streaming:
        return response.content
    content = response.streaming_content
    if hasattr(content, "__aiter__"):

        async def collect() -> bytes:
            return b"".join([chunk async for chunk in content])

        return async_to_sync(collect)()
    return b"".join(content)
