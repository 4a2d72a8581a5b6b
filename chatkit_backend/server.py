"""``DjangoChatKitServer``: the ChatKit protocol over our store, with checks before streaming.

Point ``CHATKIT_BACKEND["SERVER_CLASS"]`` at a subclass to handle widget actions
(``action`` / ``sync_action``), dictation (``transcribe``) or to change how a turn is answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from chatkit.server import (
    ChatKitServer,
    NonStreamingResult,
    StreamingResult,
)
from chatkit.store import AttachmentStore
from chatkit.types import (
    Action,
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    AudioInput,
    ChatKitReq,
    FeedbackKind,
    HiddenContextItem,
    NoticeEvent,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    TranscriptionResult,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)
from pydantic import BaseModel

from . import dictation
from .attachments import DjangoAttachmentStore
from .conf import conf
from .context import RequestContext
from .exceptions import ChoiceRefused, Unsupported
from .intake import preflight
from .intake.parse import parse_request
from .live.detached import relay
from .live.headless import HeadlessTurns
from .live.progress import answer
from .reasoning.handoffs import RESET_AGENT_ACTION
from .reasoning.orchestrator import Orchestrator
from .store import DjangoStore
from .timestamps import with_utc_timestamps
from .turns import Turn, keep_claim


class DjangoChatKitServer(HeadlessTurns, ChatKitServer[RequestContext]):
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
        """Validate a request body (see :func:`~chatkit_backend.intake.parse.parse_request`)."""
        return parse_request(body)

    async def process(  # type: ignore[override]
        self, request: str | bytes | bytearray | ChatKitReq, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        parsed = (
            request if not isinstance(request, str | bytes | bytearray) else self.parse(request)
        )
        preflight.clamp_pages(parsed)
        if isinstance(parsed, AttachmentsCreateReq | AttachmentsDeleteReq) and (
            self.attachment_store is None or not conf.ATTACHMENTS
        ):
            raise Unsupported("Attachments are not configured on this server.")
        if is_streaming_req(parsed):
            # A stream answers 200 before its first event, so anything that should be a 404,
            # a 409 or a 400 has to be found out now.
            turn = context.turn or await self.begin_turn(parsed, context)
            try:
                await self.check_before_streaming(parsed, context)
            except BaseException:
                await self.store.end_turn(turn, context, ran=False)
                raise
            return StreamingResult(
                relay(self._run_turn(turn, self._process_streaming(parsed, context), context), turn)
            )
        await self.check_ids(parsed, context)
        return NonStreamingResult(await self._process_non_streaming(parsed, context))

    async def check_ids(self, request: Any, context: RequestContext) -> None:
        """Raise ``NotFoundError`` for a JSON op naming a thread or attachment that is missing
        or not the caller's (see :func:`~chatkit_backend.intake.preflight.check_ids`)."""
        await preflight.check_ids(self.store, request, context)

    async def begin_turn(self, request: Any, context: RequestContext) -> Turn:
        """Claim the request's thread and reserve its budget (see :mod:`chatkit_backend.turns`).

        Raises ``NotFoundError``, ``TurnInProgress`` (409) or ``TurnRefused`` (the budget is
        spent).
        """
        return await self.store.begin_turn(
            getattr(request.params, "thread_id", None),  # threads.create names none
            context,
            budget=conf.DAILY_TOKEN_BUDGET,
            reservation=conf.TURN_TOKEN_RESERVATION,
        )

    def prepare(self, request: Any, context: RequestContext) -> None:
        """A request's database work done ahead of :meth:`process`, synchronously, in the
        request's first thread hop (with its authentication): a turn's claim, budget and
        history; the thread and page a read asks for (see
        :func:`~chatkit_backend.intake.preflight.start_turn` and ``read_ahead``). Raises what
        :meth:`process` would raise for them; :meth:`process` then finds the work done."""
        preflight.clamp_pages(request)
        if is_streaming_req(request):
            preflight.start_turn(self.store, request, context)
        else:
            preflight.read_ahead(self.store, request, context)

    async def _run_turn(
        self, turn: Turn, stream: AsyncGenerator[bytes, None], context: RequestContext
    ) -> AsyncIterator[bytes]:
        """Stream the turn while it holds its thread; then settle it, however it ended.

        threads.create's new thread is held until the turn's next write (the user's message)
        stores it: until then its events wait too, so a client that acts on
        ``thread.created`` at once (a rename, a read) finds the thread.
        """
        store = self.store
        turn.loop = asyncio.get_running_loop()
        every = max(0.1, conf.TURN_LEASE_SECONDS / 3)
        heartbeat = asyncio.create_task(keep_claim(turn, store.renew_turn, every))
        waiting: list[bytes] = []
        try:
            async for chunk in stream:
                # A stopped turn (its thread was deleted) ends quietly: nothing more is sent.
                if turn.stopped is not None:
                    continue
                if turn.pending.new_thread is not None:
                    waiting.append(chunk)
                    continue
                for held in waiting:
                    yield held
                waiting.clear()
                yield chunk
        finally:
            heartbeat.cancel()
            await store.end_turn(turn, context)  # stores a thread nothing stored before
        if turn.stopped is None:
            for held in waiting:  # the stream ended before the user's message was stored
                yield held

    async def check_before_streaming(self, request: Any, context: RequestContext) -> None:
        """Raise ``NotFoundError`` or ``RequestError`` for a streaming request that cannot work
        (see :func:`~chatkit_backend.intake.preflight.check_streaming`), or ``ChoiceRefused``
        for a message that picks a model or tool the site does not offer."""
        await preflight.check_streaming(self.store, request, context)
        await self.check_choices(request, context)

    async def check_choices(self, request: Any, context: RequestContext) -> None:
        """Raise ``ChoiceRefused`` if the message's ``inference_options`` cannot be honoured:
        a model not in ``MODEL_CHOICES``, a tool the answering agent does not have."""
        params = request.params
        options = getattr(getattr(params, "input", None), "inference_options", None)
        if options is None or not (options.model or options.tool_choice):
            return
        thread_id = getattr(params, "thread_id", None)
        thread = await self.store.load_thread(thread_id, context) if thread_id else None
        problem = await self.orchestrator.refusal(options, thread, context)
        if problem is not None:
            raise ChoiceRefused(problem)

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
        if context.turn is not None:
            # From here the turn's writes wait for its last hop (see store.pending).
            context.turn.pending.answering = True
        # A paused thread is not answered; a run that may outlive its client keeps its answer
        # stored as it grows (see live.progress).
        return answer(self.orchestrator.respond, thread, input_user_message, context, self.store)

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

        The action ``chatkit_backend.reset_agent`` sends the thread back to the root agent
        (after a handoff) instead, with a notice. Override to handle actions in code, e.g.
        update the sender widget without a model call.
        """
        if action.type == RESET_AGENT_ACTION:
            name = await self.orchestrator.reset_agent(thread, context)
            yield NoticeEvent(level="info", message=f"You are talking to {name} again.")
            return
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
        """Handles ``chatkit_backend.reset_agent`` (back to the root agent); other actions need
        a subclass."""
        if action.type == RESET_AGENT_ACTION:
            await self.orchestrator.reset_agent(thread, context)
            await self.store.save_thread(thread, context)
            return SyncCustomActionResponse()
        raise Unsupported(
            "Synchronous widget actions are not handled by this server. Override sync_action() "
            "in a subclass named by CHATKIT_BACKEND['SERVER_CLASS']."
        )

    async def transcribe(
        self, audio_input: AudioInput, context: RequestContext
    ) -> TranscriptionResult:
        """Dictation through the provider factory (OpenAI's transcription endpoint), within
        ``DICTATION_MAX_BYTES`` and ``DICTATION_MAX_SECONDS`` (see
        :mod:`chatkit_backend.dictation`). Override to transcribe some other way."""
        return await dictation.transcribe(audio_input)

    def dictation_enabled(self) -> bool:
        """Whether ``input.transcribe`` can work: the OpenAI provider, or a subclass's own
        ``transcribe()`` (what the page's ``composer.dictation.enabled`` should say)."""
        overridden = type(self).transcribe is not DjangoChatKitServer.transcribe
        return overridden or dictation.dictation_available()


@lru_cache(maxsize=8)
def _server_for(server_class: type[DjangoChatKitServer]) -> DjangoChatKitServer:
    return server_class()


def get_server() -> DjangoChatKitServer:
    """The configured server. It holds no per-request state, so one instance serves all."""
    return _server_for(conf.imported("SERVER_CLASS"))
