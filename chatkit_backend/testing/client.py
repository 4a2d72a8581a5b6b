"""Clients that speak the ChatKit protocol to the endpoint and parse what comes back.

They wrap a transport you already have: Django's test ``Client`` / ``AsyncClient`` (through
the URL conf, no server) or an ``httpx.Client`` / ``httpx.AsyncClient`` (against a real ASGI
server). Answers are parsed with chatkit's own pydantic types: the client's view of the wire.
"""

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
    Page,
    SyncCustomActionResponse,
    Thread,
    ThreadCreatedEvent,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)
from pydantic import TypeAdapter

EVENT_ADAPTER: TypeAdapter[ThreadStreamEvent] = TypeAdapter(ThreadStreamEvent)
DEFAULT_PATH = "/chatkit/api"


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


class _Requests:
    """Request bodies of every op, shared by the sync and async clients."""

    @staticmethod
    def body(op: str, params: dict[str, Any]) -> bytes:
        return json.dumps({"type": op, "params": params}).encode()


def _headers_of(response: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in response.headers.items()}


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


class ChatKitClient(_Requests):
    """Synchronous protocol client over Django's test ``Client`` or an ``httpx.Client``."""

    def __init__(
        self, transport: Any, path: str = DEFAULT_PATH, headers: dict[str, str] | None = None
    ):
        self.transport = transport
        self.path = path
        self.headers = dict(headers or {})

    def post(self, body: bytes | str, content_type: str = "application/json") -> RawResponse:
        """POST a raw body: for malformed-request tests."""
        body = body.encode() if isinstance(body, str) else body
        if hasattr(self.transport, "build_request"):  # httpx
            response = self.transport.post(
                self.path, content=body, headers={"Content-Type": content_type, **self.headers}
            )
            return RawResponse(response.status_code, _headers_of(response), response.content)
        response = self.transport.post(
            self.path, data=body, content_type=content_type, headers=self.headers
        )
        return RawResponse(response.status_code, _headers_of(response), response_body(response))

    def request(self, op: str, **params: Any) -> RawResponse:
        return self.post(self.body(op, params))

    def _ok(self, response: RawResponse) -> RawResponse:
        if response.status != 200:
            raise ChatKitError(response.status, response.content)
        return response

    def stream(self, op: str, **params: Any) -> StreamResult:
        response = self._ok(self.request(op, **params))
        return StreamResult(parse_sse(response.content), response, params.get("thread_id"))

    # -- streaming ops ---------------------------------------------------------------------

    def create_thread(self, text: str, attachments: Iterable[str] = ()) -> StreamResult:
        return self.stream("threads.create", input=message_input(text, attachments))

    def send(self, thread_id: str, text: str, attachments: Iterable[str] = ()) -> StreamResult:
        return self.stream(
            "threads.add_user_message", thread_id=thread_id, input=message_input(text, attachments)
        )

    def retry(self, thread_id: str, item_id: str) -> StreamResult:
        return self.stream("threads.retry_after_item", thread_id=thread_id, item_id=item_id)

    def client_tool_output(self, thread_id: str, result: Any) -> StreamResult:
        return self.stream("threads.add_client_tool_output", thread_id=thread_id, result=result)

    def structured_input(
        self, thread_id: str, item_id: str, answers: dict[str, list[str]]
    ) -> StreamResult:
        submission = {"answers": {key: {"values": values} for key, values in answers.items()}}
        return self.stream(
            "threads.add_structured_input", thread_id=thread_id, item_id=item_id, input=submission
        )

    def custom_action(
        self, thread_id: str, action: dict[str, Any], item_id: str | None = None
    ) -> StreamResult:
        return self.stream(
            "threads.custom_action", thread_id=thread_id, item_id=item_id, action=action
        )

    # -- JSON ops --------------------------------------------------------------------------

    def get_thread(self, thread_id: str) -> Thread:
        response = self._ok(self.request("threads.get_by_id", thread_id=thread_id))
        return Thread.model_validate_json(response.content)

    def list_threads(
        self, limit: int | None = None, after: str | None = None, order: str = "desc"
    ) -> Page[Thread]:
        response = self._ok(self.request("threads.list", limit=limit, after=after, order=order))
        return Page[Thread].model_validate_json(response.content)

    def list_items(
        self,
        thread_id: str,
        limit: int | None = None,
        after: str | None = None,
        order: str = "desc",
    ) -> Page[ThreadItem]:
        response = self._ok(
            self.request("items.list", thread_id=thread_id, limit=limit, after=after, order=order)
        )
        return Page[ThreadItem].model_validate_json(response.content)

    def update_thread(self, thread_id: str, title: str) -> Thread:
        response = self._ok(self.request("threads.update", thread_id=thread_id, title=title))
        return Thread.model_validate_json(response.content)

    def delete_thread(self, thread_id: str) -> None:
        self._ok(self.request("threads.delete", thread_id=thread_id))

    def feedback(self, thread_id: str, item_ids: list[str], kind: str) -> None:
        self._ok(self.request("items.feedback", thread_id=thread_id, item_ids=item_ids, kind=kind))

    def sync_custom_action(
        self, thread_id: str, action: dict[str, Any], item_id: str | None = None
    ) -> SyncCustomActionResponse:
        response = self._ok(
            self.request(
                "threads.sync_custom_action", thread_id=thread_id, item_id=item_id, action=action
            )
        )
        return SyncCustomActionResponse.model_validate_json(response.content)


class AsyncChatKitClient(_Requests):
    """The protocol client for async tests, over ``AsyncClient`` or ``httpx.AsyncClient``."""

    def __init__(
        self, transport: Any, path: str = DEFAULT_PATH, headers: dict[str, str] | None = None
    ):
        self.transport = transport
        self.path = path
        self.headers = dict(headers or {})

    async def post(self, body: bytes | str, content_type: str = "application/json") -> RawResponse:
        body = body.encode() if isinstance(body, str) else body
        if hasattr(self.transport, "build_request"):  # httpx
            response = await self.transport.post(
                self.path, content=body, headers={"Content-Type": content_type, **self.headers}
            )
            return RawResponse(response.status_code, _headers_of(response), response.content)
        response = await self.transport.post(
            self.path, data=body, content_type=content_type, headers=self.headers
        )
        if response.streaming:
            content = b"".join([chunk async for chunk in response.streaming_content])
        else:
            content = response.content
        return RawResponse(response.status_code, _headers_of(response), content)

    async def request(self, op: str, **params: Any) -> RawResponse:
        return await self.post(self.body(op, params))

    async def stream(self, op: str, **params: Any) -> StreamResult:
        response = await self.request(op, **params)
        if response.status != 200:
            raise ChatKitError(response.status, response.content)
        return StreamResult(parse_sse(response.content), response, params.get("thread_id"))

    async def create_thread(self, text: str, attachments: Iterable[str] = ()) -> StreamResult:
        return await self.stream("threads.create", input=message_input(text, attachments))

    async def send(
        self, thread_id: str, text: str, attachments: Iterable[str] = ()
    ) -> StreamResult:
        return await self.stream(
            "threads.add_user_message", thread_id=thread_id, input=message_input(text, attachments)
        )

    async def list_items(
        self,
        thread_id: str,
        limit: int | None = None,
        after: str | None = None,
        order: str = "desc",
    ) -> Page[ThreadItem]:
        response = await self.request(
            "items.list", thread_id=thread_id, limit=limit, after=after, order=order
        )
        if response.status != 200:
            raise ChatKitError(response.status, response.content)
        return Page[ThreadItem].model_validate_json(response.content)

    async def get_thread(self, thread_id: str) -> Thread:
        response = await self.request("threads.get_by_id", thread_id=thread_id)
        if response.status != 200:
            raise ChatKitError(response.status, response.content)
        return Thread.model_validate_json(response.content)
