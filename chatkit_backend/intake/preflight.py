"""What a request names, checked before the server starts to answer.

A stream answers 200 before its first event, so anything that should be a 404, a 409 or a 400
has to be found out first: the thread, item and every attachment a request names must be the
caller's and fit for the op. JSON ops are checked too where the SDK's ``Store`` contract would
answer quietly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatkit.server import DEFAULT_PAGE_SIZE
from chatkit.store import NotFoundError
from chatkit.types import (
    AttachmentsDeleteReq,
    ClientToolCallItem,
    ItemsListReq,
    StructuredInputItem,
    ThreadMetadata,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    UserMessageInput,
    UserMessageItem,
    WidgetItem,
)

from ..conf import conf
from ..context import RequestContext
from ..exceptions import RequestError

if TYPE_CHECKING:
    from ..store import DjangoStore


def clamp_pages(request: Any) -> None:
    """One request must not make the server read a whole thread at once."""
    if isinstance(request, ThreadsListReq | ItemsListReq):
        limit = request.params.limit or DEFAULT_PAGE_SIZE
        request.params.limit = max(1, min(limit, conf.MAX_PAGE_SIZE))


def start_turn(store: DjangoStore, request: Any, context: RequestContext) -> None:
    """A turn's database work before it streams (synchronously, in the request's first hop):
    claim the thread and reserve the budget (``DjangoStore.claim_turn``, what the server's
    ``begin_turn`` does), and read the history the model will get, so nothing more asks the
    database before the user's message is stored."""
    thread_id = getattr(request.params, "thread_id", None)
    store.claim_turn(
        thread_id,
        context,
        budget=conf.DAILY_TOKEN_BUDGET,
        reservation=conf.TURN_TOKEN_RESERVATION,
    )
    if thread_id is not None:
        store.prefetch_history(thread_id, conf.HISTORY_LIMIT, context)


def read_ahead(store: DjangoStore, request: Any, context: RequestContext) -> None:
    """Read what a JSON op that only reads will ask the store for (synchronously, in the
    request's first hop, which then hands the connection back): ``items.list``,
    ``threads.get_by_id`` and ``threads.list`` then cost one hop. Raises ``NotFoundError`` as
    ``check_ids`` would."""
    match request:
        case ItemsListReq():
            params = request.params
            store.read_thread(params.thread_id, context)
            limit = params.limit or DEFAULT_PAGE_SIZE
            store.read_page(params.thread_id, params.after, limit, params.order, context)
        case ThreadsGetByIdReq():
            store.read_thread(request.params.thread_id, context)
            store.read_page(request.params.thread_id, None, DEFAULT_PAGE_SIZE, "asc", context)
        case ThreadsListReq():
            params = request.params
            store.read_threads(
                params.limit or DEFAULT_PAGE_SIZE, params.after, params.order, context
            )
        case _:
            return


async def check_ids(store: DjangoStore, request: Any, context: RequestContext) -> None:
    """Raise ``NotFoundError`` for a JSON op naming a thread or attachment that is missing
    or not the caller's.

    The SDK's ``Store`` contract answers those ops quietly (an empty page of items, a
    delete that does nothing); over HTTP they are a 404, like every other op.
    """
    match request:
        case ItemsListReq():
            await store.load_thread(request.params.thread_id, context)
        case AttachmentsDeleteReq():
            await store.load_attachment_to_change(request.params.attachment_id, context)


async def check_streaming(store: DjangoStore, request: Any, context: RequestContext) -> None:
    """Raise ``NotFoundError`` or ``RequestError`` for a streaming request that cannot work.

    Every op but threads.create makes the agent answer in an existing thread, so each one
    needs a thread the caller may change (``load_thread_to_change``) that is neither locked
    nor closed.
    """
    match request:
        case ThreadsCreateReq():
            await check_input(store, request.params.input, context)
        case ThreadsAddUserMessageReq():
            thread = await store.load_thread_to_change(request.params.thread_id, context)
            check_open(thread)
            await check_input(store, request.params.input, context)
        case ThreadsAddClientToolOutputReq():
            thread = await store.load_thread_to_change(request.params.thread_id, context)
            check_open(thread)
            last = await store.load_thread_items(thread.id, None, 1, "desc", context)
            if not any(
                isinstance(item, ClientToolCallItem) and item.status == "pending"
                for item in last.data
            ):
                raise RequestError(
                    "This thread is not waiting for a client tool's output.",
                    code="no_pending_client_tool_call",
                )
        case ThreadsAddStructuredInputReq():
            check_open(await store.load_thread_to_change(request.params.thread_id, context))
            item = await store.load_item(request.params.thread_id, request.params.item_id, context)
            if not isinstance(item, StructuredInputItem) or item.status != "pending":
                raise RequestError(
                    f"Item {item.id} is not a pending structured input.",
                    code="not_pending_structured_input",
                )
        case ThreadsRetryAfterItemReq():
            check_open(await store.load_thread_to_change(request.params.thread_id, context))
            item = await store.load_item(request.params.thread_id, request.params.item_id, context)
            if not isinstance(item, UserMessageItem):
                raise RequestError(
                    f"Item {item.id} is not a user message.", code="not_a_user_message"
                )
        case ThreadsCustomActionReq():
            check_open(await store.load_thread_to_change(request.params.thread_id, context))
            if request.params.item_id:
                item = await store.load_item(
                    request.params.thread_id, request.params.item_id, context
                )
                if not isinstance(item, WidgetItem):
                    raise RequestError(f"Item {item.id} is not a widget.", code="not_a_widget")


async def check_input(store: DjangoStore, input: UserMessageInput, context: RequestContext) -> None:
    # Its length was checked with the rest of the body (``parse``).
    if not input.attachments:
        return
    if len(input.attachments) > conf.ATTACHMENT_MAX_PER_MESSAGE:
        raise RequestError(
            f"A message may carry at most {conf.ATTACHMENT_MAX_PER_MESSAGE} attachments.",
            code="too_many_attachments",
        )
    usable = await store.usable_attachments(input.attachments, context)
    missing = set(input.attachments) - set(usable)
    if missing:
        raise NotFoundError(f"Attachment {sorted(missing)[0]} not found")
    if not all(usable.values()):
        raise RequestError(
            "An attachment has not finished uploading.", code="attachment_not_uploaded"
        )


def check_open(thread: ThreadMetadata) -> None:
    # The SDK does not enforce thread status; a locked or closed thread takes no messages.
    if thread.status.type != "active":
        reason = getattr(thread.status, "reason", None)
        raise RequestError(
            f"This thread is {thread.status.type}" + (f": {reason}" if reason else "."),
            code=f"thread_{thread.status.type}",
            status=409,
        )
