"""Clients that speak the ChatKit protocol to the endpoint and parse what comes back.

They wrap a transport you already have: Django's test ``Client`` / ``AsyncClient`` (through
the URL conf, no server) or an ``httpx.Client`` / ``httpx.AsyncClient`` (against a real ASGI
server). Answers are parsed with chatkit's own pydantic types: the client's view of the wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from chatkit.types import Page, SyncCustomActionResponse, Thread, ThreadItem

from . import wire
from .wire import ChatKitError, RawResponse, StreamResult, parse_sse

DEFAULT_PATH = "/chatkit/api"


class _Requests:
    """Request bodies of every op, shared by the sync and async clients."""

    @staticmethod
    def body(op: str, params: dict[str, Any]) -> bytes:
        return json.dumps({"type": op, "params": params}).encode()


def _headers_of(response: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in response.headers.items()}


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
        return RawResponse(
            response.status_code, _headers_of(response), wire.response_body(response)
        )

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
        return self.stream("threads.create", input=wire.message_input(text, attachments))

    def send(self, thread_id: str, text: str, attachments: Iterable[str] = ()) -> StreamResult:
        return self.stream(
            "threads.add_user_message",
            thread_id=thread_id,
            input=wire.message_input(text, attachments),
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
        return await self.stream("threads.create", input=wire.message_input(text, attachments))

    async def send(
        self, thread_id: str, text: str, attachments: Iterable[str] = ()
    ) -> StreamResult:
        return await self.stream(
            "threads.add_user_message",
            thread_id=thread_id,
            input=wire.message_input(text, attachments),
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
