"""``DjangoChatKitServer``: the ChatKit protocol over our store, with checks before streaming.

Point ``CHATKIT_BACKEND["SERVER_CLASS"]`` at a subclass to handle widget actions
(``action`` / ``sync_action``), dictation (``transcribe``) or to change how a turn is answered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from chatkit.server import (
    DEFAULT_PAGE_SIZE,
    ChatKitServer,
    NonStreamingResult,
    StreamingResult,
)
from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Action,
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    ClientToolCallItem,
    FeedbackKind,
    HiddenContextItem,
    ItemsListReq,
    StructuredInputItem,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadStreamEvent,
    UserMessageInput,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)
from pydantic import BaseModel, TypeAdapter

from . import limits
from .attachments import DjangoAttachmentStore
from .conf import conf
from .context import RequestContext
from .exceptions import RequestError, Unsupported
from .reasoning.orchestrator import Orchestrator
from .store import DjangoStore
from .timestamps import with_utc_timestamps
from .turns import Turn, keep_claim
from .validation import refuse_constant, unknown_fields, unstorable_text

# chatkit's own process() builds this adapter on every request, which costs more than the
# rest of a plain turn; building it once is the same validation.
REQUEST_ADAPTER: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)


class DjangoChatKitServer(ChatKitServer[RequestContext]):
    """The ChatKit server every request goes through."""

    #: What answers each turn (:meth:`respond`). Point it at an ``Orchestrator`` subclass to
    #: change how a turn's model input or run is built.
    orchestrator_class: type[Orchestrator] = Orchestrator
    # The server, its orchestrator and the upload views share this store; a subclass of
    # DjangoStore changes it for all of them.
    store: DjangoStore

    def __init__(
        self,
        store: DjangoStore | None = None,
        attachment_store: AttachmentStore[RequestContext] | None = None,
    ):
        store = store or DjangoStore()
        super().__init__(store, attachment_store or DjangoAttachmentStore(store))
        self.orchestrator = self.orchestrator_class(self.store)

    # -- request entry ---------------------------------------------------------------------

    def parse(self, body: str | bytes | bytearray) -> ChatKitReq:
        """Validate a request body.

        Raises ``RequestError`` for a body that is not JSON, carries unknown fields or more
        than the limits allow (``limits``), and ``pydantic.ValidationError`` for one that does
        not fit the protocol.
        """
        limits.check_containers(body)
        try:
            raw = json.loads(body, parse_constant=refuse_constant)
        except ValueError:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not text
            raise RequestError("The request body is not valid JSON.") from None
        except RecursionError:
            raise RequestError("The request body is nested too deeply.") from None
        limits.check_value_count(raw)
        unstorable = unstorable_text(body, raw)
        if unstorable is not None:
            where = ".".join(str(part) for part in unstorable) or "the body"
            raise RequestError(
                f"Text at {where} holds a NUL character or an unpaired surrogate, which "
                "cannot be stored."
            )
        request = REQUEST_ADAPTER.validate_python(raw)
        if conf.REJECT_UNKNOWN_FIELDS:
            unknown = unknown_fields(request, raw)
            if unknown:
                where = ".".join(str(part) for part in unknown[0])
                raise RequestError(f"Unknown field: {where}.", code="unknown_field")
        limits.check_request(request)
        return request

    async def process(  # type: ignore[override]
        self, request: str | bytes | bytearray | ChatKitReq, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        parsed = (
            request if not isinstance(request, str | bytes | bytearray) else self.parse(request)
        )
        if isinstance(parsed, ThreadsListReq | ItemsListReq):
            # One request must not make the server read a whole thread at once.
            limit = parsed.params.limit or DEFAULT_PAGE_SIZE
            parsed.params.limit = max(1, min(limit, int(conf.MAX_PAGE_SIZE)))
        if isinstance(parsed, AttachmentsCreateReq | AttachmentsDeleteReq) and (
            self.attachment_store is None or not conf.ATTACHMENTS
        ):
            raise Unsupported("Attachments are not configured on this server.")
        if is_streaming_req(parsed):
            # A stream answers 200 before its first event, so anything that should be a 404,
            # a 409 or a 400 has to be found out now.
            turn = await self.begin_turn(parsed, context)
            try:
                await self.check_before_streaming(parsed, context)
            except BaseException:
                await self.store.end_turn(turn, context, ran=False)
                raise
            return StreamingResult(
                self._run_turn(turn, self._process_streaming(parsed, context), context)
            )
        await self.check_ids(parsed, context)
        return NonStreamingResult(await self._process_non_streaming(parsed, context))

    async def check_ids(self, request: Any, context: RequestContext) -> None:
        """Raise ``NotFoundError`` for a JSON op naming a thread or attachment that is missing
        or not the caller's.

        The SDK's ``Store`` contract answers those ops quietly (an empty page of items, a
        delete that does nothing); over HTTP they are a 404, like every other op.
        """
        match request:
            case ItemsListReq():
                await self.store.load_thread(request.params.thread_id, context)
            case AttachmentsDeleteReq():
                await self.store.load_attachment_to_change(request.params.attachment_id, context)

    async def begin_turn(self, request: Any, context: RequestContext) -> Turn:
        """Claim the request's thread and reserve its budget (see :mod:`chatkit_backend.turns`).

        Raises ``NotFoundError``, ``TurnInProgress`` (409) or ``TurnRefused`` (the budget is
        spent).
        """
        budget = conf.DAILY_TOKEN_BUDGET
        return await self.store.begin_turn(
            getattr(request.params, "thread_id", None),  # threads.create names none
            context,
            budget=None if budget is None else int(budget),
            reservation=int(conf.TURN_TOKEN_RESERVATION),
        )

    async def _run_turn(
        self, turn: Turn, stream: AsyncGenerator[bytes, None], context: RequestContext
    ) -> AsyncIterator[bytes]:
        """Stream the turn while it holds its thread; then settle it, however it ended."""
        store = self.store
        turn.loop = asyncio.get_running_loop()
        every = max(0.1, float(conf.TURN_LEASE_SECONDS) / 3)
        heartbeat = asyncio.create_task(keep_claim(turn, store.renew_turn, every))
        try:
            async for chunk in stream:
                # A stopped turn (its thread was deleted) ends quietly: nothing more is sent.
                if turn.stopped is None:
                    yield chunk
        finally:
            heartbeat.cancel()
            await store.end_turn(turn, context)

    async def check_before_streaming(self, request: Any, context: RequestContext) -> None:
        """Raise ``NotFoundError`` or ``RequestError`` for a streaming request that cannot work.

        Every op but threads.create makes the agent answer in an existing thread, so each one
        needs a thread the caller may change that is neither locked nor closed.
        """
        match request:
            case ThreadsCreateReq():
                await self._check_input(request.params.input, context)
            case ThreadsAddUserMessageReq():
                thread = await self._thread_to_change(request.params.thread_id, context)
                self._check_open(thread)
                await self._check_input(request.params.input, context)
            case ThreadsAddClientToolOutputReq():
                thread = await self._thread_to_change(request.params.thread_id, context)
                self._check_open(thread)
                last = await self.store.load_thread_items(thread.id, None, 1, "desc", context)
                if not any(
                    isinstance(item, ClientToolCallItem) and item.status == "pending"
                    for item in last.data
                ):
                    raise RequestError(
                        "This thread is not waiting for a client tool's output.",
                        code="no_pending_client_tool_call",
                    )
            case ThreadsAddStructuredInputReq():
                self._check_open(await self._thread_to_change(request.params.thread_id, context))
                item = await self.store.load_item(
                    request.params.thread_id, request.params.item_id, context
                )
                if not isinstance(item, StructuredInputItem) or item.status != "pending":
                    raise RequestError(
                        f"Item {item.id} is not a pending structured input.",
                        code="not_pending_structured_input",
                    )
            case ThreadsRetryAfterItemReq():
                self._check_open(await self._thread_to_change(request.params.thread_id, context))
                item = await self.store.load_item(
                    request.params.thread_id, request.params.item_id, context
                )
                if not isinstance(item, UserMessageItem):
                    raise RequestError(
                        f"Item {item.id} is not a user message.", code="not_a_user_message"
                    )
            case ThreadsCustomActionReq():
                self._check_open(await self._thread_to_change(request.params.thread_id, context))
                if request.params.item_id:
                    item = await self.store.load_item(
                        request.params.thread_id, request.params.item_id, context
                    )
                    if not isinstance(item, WidgetItem):
                        raise RequestError(f"Item {item.id} is not a widget.", code="not_a_widget")

    async def _thread_to_change(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        # Every streaming op but threads.create writes to an existing thread.
        return await self.store.load_thread_to_change(thread_id, context)

    async def _check_input(self, input: UserMessageInput, context: RequestContext) -> None:
        # Its length was checked with the rest of the body (``parse``).
        if not input.attachments:
            return
        if len(input.attachments) > int(conf.ATTACHMENT_MAX_PER_MESSAGE):
            raise RequestError(
                f"A message may carry at most {conf.ATTACHMENT_MAX_PER_MESSAGE} attachments.",
                code="too_many_attachments",
            )
        usable = await self.store.usable_attachments(input.attachments, context)
        missing = set(input.attachments) - set(usable)
        if missing:
            raise NotFoundError(f"Attachment {sorted(missing)[0]} not found")
        if not all(usable.values()):
            raise RequestError(
                "An attachment has not finished uploading.", code="attachment_not_uploaded"
            )

    @staticmethod
    def _check_open(thread: ThreadMetadata) -> None:
        # The SDK does not enforce thread status; a locked or closed thread takes no messages.
        if thread.status.type != "active":
            reason = getattr(thread.status, "reason", None)
            raise RequestError(
                f"This thread is {thread.status.type}" + (f": {reason}" if reason else "."),
                code=f"thread_{thread.status.type}",
                status=409,
            )

    def _serialize(self, obj: BaseModel) -> bytes:
        # Every JSON byte the SDK's server sends passes here. Threads read from the database
        # carry UTC (``...Z``) while the SDK's new threads and items carry naive local time,
        # which a browser reads as *its* local time: one form on the wire, UTC with ``Z``.
        return super()._serialize(with_utc_timestamps(obj))

    # -- the turn --------------------------------------------------------------------------

    def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        return self.orchestrator.respond(thread, input_user_message, context)

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: RequestContext,
    ) -> None:
        await self.store.set_feedback(thread_id, item_ids, feedback, context)

    async def action(  # type: ignore[override]
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """By default, tell the agent (in hidden context) what the user did, and let it answer.

        Override to handle actions in code, e.g. update the sender widget without a model call.
        """
        note = {"action": action.type, "payload": action.payload}
        if sender is not None:
            note["widget_item_id"] = sender.id
        yield ThreadItemDoneEvent(
            item=HiddenContextItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=f"The user performed a widget action: {note}",
            )
        )
        # The server stores the note before asking for the next event, so the history the
        # agent sees includes it.
        async for event in self.respond(thread, None, context):
            yield event

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        raise Unsupported(
            "Synchronous widget actions are not handled by this server. Override sync_action() "
            "in a subclass named by CHATKIT_BACKEND['SERVER_CLASS']."
        )

    async def transcribe(self, audio_input: Any, context: RequestContext) -> Any:
        raise Unsupported(
            "Dictation is not configured on this server. Override transcribe() in a subclass "
            "named by CHATKIT_BACKEND['SERVER_CLASS']."
        )


@lru_cache(maxsize=8)
def _server_for(server_class: type[DjangoChatKitServer]) -> DjangoChatKitServer:
    return server_class()


def get_server() -> DjangoChatKitServer:
    """The configured server. It holds no per-request state, so one instance serves all."""
    return _server_for(conf.imported("SERVER_CLASS"))
