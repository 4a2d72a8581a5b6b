"""The peers' architecture: what OpenAI's ChatKit samples run, as a Starlette app.

One ``POST /chatkit`` endpoint handing the body to chatkit's ``ChatKitServer.process()``, an
in-memory store written like the samples' ``MemoryStore`` (dicts of threads and item lists,
deep copies on the way in and out, ``load_thread_items`` sorting the thread's items and
slicing after/limit/order), the same agent as our site (``benchmarks.agent``), the history
built like the samples (newest 50 items through chatkit's ``ThreadItemConverter``). No
authentication, nothing persisted. Agents SDK tracing is off, as it is for our site.

Run: ``uvicorn benchmarks.peer_app:app --workers 1 --no-access-log``.
``POST /bench/prefill {"threads": k, "items": n}`` adds k threads of n items each (benchmark
only) and answers their ids and, for each, the id of the item in the middle.

``shared_floor`` is the same app with one change: the request's ``TypeAdapter`` is built once
(chatkit's ``process()`` builds one per request, about 3 ms). What it spends per turn is the
work every architecture shares (the Agents SDK runner, chatkit's processing, serialisation):
the floor under any backend that uses chatkit's server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agents import Runner, set_tracing_disabled
from chatkit.agents import AgentContext, ThreadItemConverter, stream_agent_response
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    Action,
    Attachment,
    ChatKitReq,
    Page,
    Thread,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)
from pydantic import TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .agent import build_agent
from .items import prefill_items

set_tracing_disabled(True)


@dataclass
class _ThreadState:
    thread: ThreadMetadata
    items: list[ThreadItem]


class MemoryStore(Store[dict[str, Any]]):
    """In-memory store in the style of chatkit's samples."""

    def __init__(self) -> None:
        self._threads: dict[str, _ThreadState] = {}

    @staticmethod
    def _coerce_thread_metadata(thread: ThreadMetadata | Thread) -> ThreadMetadata:
        has_items = isinstance(thread, Thread) or "items" in getattr(
            thread, "model_fields_set", set()
        )
        if not has_items:
            return thread.model_copy(deep=True)
        data = thread.model_dump()
        data.pop("items", None)
        return ThreadMetadata(**data).model_copy(deep=True)

    async def load_thread(self, thread_id: str, context: dict[str, Any]) -> ThreadMetadata:
        state = self._threads.get(thread_id)
        if not state:
            raise NotFoundError(f"Thread {thread_id} not found")
        return self._coerce_thread_metadata(state.thread)

    async def save_thread(self, thread: ThreadMetadata, context: dict[str, Any]) -> None:
        metadata = self._coerce_thread_metadata(thread)
        state = self._threads.get(thread.id)
        if state:
            state.thread = metadata
        else:
            self._threads[thread.id] = _ThreadState(thread=metadata, items=[])

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: dict[str, Any]
    ) -> Page[ThreadMetadata]:
        threads = sorted(
            (self._coerce_thread_metadata(state.thread) for state in self._threads.values()),
            key=lambda t: t.created_at or datetime.min,
            reverse=(order == "desc"),
        )
        start = 0
        if after:
            start = {t.id: i for i, t in enumerate(threads)}.get(after, -1) + 1
        chunk = threads[start : start + limit + 1]
        has_more = len(chunk) > limit
        chunk = chunk[:limit]
        return Page(data=chunk, has_more=has_more, after=chunk[-1].id if has_more else None)

    async def delete_thread(self, thread_id: str, context: dict[str, Any]) -> None:
        self._threads.pop(thread_id, None)

    def _items(self, thread_id: str) -> list[ThreadItem]:
        state = self._threads.get(thread_id)
        if state is None:
            state = _ThreadState(
                thread=ThreadMetadata(id=thread_id, created_at=datetime.now()), items=[]
            )
            self._threads[thread_id] = state
        return state.items

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: dict[str, Any],
    ) -> Page[ThreadItem]:
        items = [item.model_copy(deep=True) for item in self._items(thread_id)]
        items.sort(key=lambda item: item.created_at, reverse=(order == "desc"))
        start = 0
        if after:
            start = {item.id: i for i, item in enumerate(items)}.get(after, -1) + 1
        chunk = items[start : start + limit + 1]
        has_more = len(chunk) > limit
        chunk = chunk[:limit]
        return Page(data=chunk, has_more=has_more, after=chunk[-1].id if has_more else None)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: dict[str, Any]
    ) -> None:
        self._items(thread_id).append(item.model_copy(deep=True))

    async def save_item(self, thread_id: str, item: ThreadItem, context: dict[str, Any]) -> None:
        items = self._items(thread_id)
        for index, existing in enumerate(items):
            if existing.id == item.id:
                items[index] = item.model_copy(deep=True)
                return
        items.append(item.model_copy(deep=True))

    async def load_item(self, thread_id: str, item_id: str, context: dict[str, Any]) -> ThreadItem:
        for item in self._items(thread_id):
            if item.id == item_id:
                return item.model_copy(deep=True)
        raise NotFoundError(f"Item {item_id} not found")

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: dict[str, Any]
    ) -> None:
        items = self._items(thread_id)
        self._threads[thread_id].items = [item for item in items if item.id != item_id]

    async def save_attachment(self, attachment: Attachment, context: dict[str, Any]) -> None:
        raise NotImplementedError("No attachments in the benchmark.")

    async def load_attachment(self, attachment_id: str, context: dict[str, Any]) -> Attachment:
        raise NotImplementedError("No attachments in the benchmark.")

    async def delete_attachment(self, attachment_id: str, context: dict[str, Any]) -> None:
        raise NotImplementedError("No attachments in the benchmark.")

    # -- benchmark only --------------------------------------------------------------------

    def prefill(self, count: int) -> tuple[str, str | None]:
        thread_id = self.generate_thread_id({})
        items = [item for _, _, _, item in prefill_items(thread_id, count)]
        created = items[0].created_at if items else datetime.now()
        self._threads[thread_id] = _ThreadState(
            thread=ThreadMetadata(id=thread_id, created_at=created, title="prefilled"),
            items=items,
        )
        return thread_id, (items[count // 2].id if items else None)


class PeerServer(ChatKitServer[dict[str, Any]]):
    """The samples' ChatKitServer subclass: history, Runner.run_streamed, stream_agent_response."""

    def __init__(self) -> None:
        self.store: MemoryStore = MemoryStore()
        super().__init__(self.store)
        self.thread_item_converter = ThreadItemConverter()

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ThreadStreamEvent]:
        return
        yield

    async def respond(
        self,
        thread: ThreadMetadata,
        item: UserMessageItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ThreadStreamEvent]:
        agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
        page = await self.store.load_thread_items(
            thread.id, after=None, limit=50, order="desc", context=context
        )
        input_items = await self.thread_item_converter.to_agent_input(list(reversed(page.data)))
        result = Runner.run_streamed(build_agent(context), input_items, context=agent_context)
        async for event in stream_agent_response(agent_context, result):
            yield event


REQUEST_ADAPTER: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)


class SharedFloorServer(PeerServer):
    """The peer with its request adapter built once, as our server does."""

    async def process(  # type: ignore[override]
        self, request: bytes, context: dict[str, Any]
    ) -> StreamingResult | NonStreamingResult:
        parsed = REQUEST_ADAPTER.validate_json(request)
        if is_streaming_req(parsed):
            return StreamingResult(self._process_streaming(parsed, context))
        return NonStreamingResult(await self._process_non_streaming(parsed, context))


server = PeerServer()
floor_server = SharedFloorServer()


async def chatkit_endpoint(request: Request) -> Response:
    payload = await request.body()
    result = await server.process(payload, {"request": request})
    if isinstance(result, StreamingResult):
        return StreamingResponse(result, media_type="text/event-stream")
    return Response(content=result.json, media_type="application/json")


async def shared_floor_endpoint(request: Request) -> Response:
    payload = await request.body()
    result = await floor_server.process(payload, {"request": request})
    if isinstance(result, StreamingResult):
        return StreamingResponse(result, media_type="text/event-stream")
    return Response(content=result.json, media_type="application/json")


async def prefill_endpoint(request: Request) -> Response:
    spec = json.loads(await request.body())
    made = [server.store.prefill(int(spec["items"])) for _ in range(int(spec.get("threads", 1)))]
    return JSONResponse({"threads": [t for t, _ in made], "middle": [m for _, m in made]})


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route("/chatkit", chatkit_endpoint, methods=["POST"]),
        Route("/bench/prefill", prefill_endpoint, methods=["POST"]),
        Route("/bench/health", health, methods=["GET"]),
    ]
)
shared_floor = Starlette(
    routes=[
        Route("/chatkit", shared_floor_endpoint, methods=["POST"]),
        Route("/bench/health", health, methods=["GET"]),
    ]
)
