"""A thread's lifecycle while a turn runs on it, over real HTTP with a slow loopback provider.

The provider (tests.support.fake_provider, Chat Completions on 127.0.0.1) streams one chunk
every 100-200 ms and reports usage only at the end, as real providers do; ``hold()`` makes its
streams wait before their first event, so a test can act at a known point of a turn.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta

import pytest
from chatkit.types import (
    ClientToolCallItem,
    StructuredInputFreeform,
    StructuredInputItem,
)
from django.utils import timezone

from chatkit_backend import models
from chatkit_backend.ids import generate_id
from chatkit_backend.testing import LiveServer, message_input
from tests.support.db import make_thread, user_message
from tests.support.fake_provider import FakeProvider
from tests.support.turn_streams import (
    DISCONNECT,
    SLOW_ANSWER,
    after_deltas,
    create_params,
    on_thread_created,
    stream_turn,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


# -- 1. deleting a thread mid-turn stops the turn, and the turn is still charged ----------------


def test_deleting_a_thread_mid_turn_stops_the_turn_and_charges_it(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider
):
    owner = live_asgi.chatkit(chatkit_user)

    def delete_thread(turn):
        owner.delete_thread(turn.thread_id)

    turn = stream_turn(
        live_asgi.http(chatkit_user),
        "threads.create",
        after_deltas(2, delete_thread),
        **create_params("Count slowly"),
    )

    # The stream ended cleanly, soon after the delete, without the rest of the answer.
    assert turn.status == 200 and not turn.disconnected
    assert turn.errors == []
    assert 2 <= len(turn.deltas) < len(SLOW_ANSWER.split())
    [record] = slow_provider.streams
    assert record.ended.wait(5)
    assert not record.finished, "the provider was left talking to nobody"

    # The thread stays deleted, and what the turn spent is charged to its owner.
    assert owner.list_threads().data == []
    assert not models.Thread.objects.exists() and not models.ThreadItem.objects.exists()
    [usage] = models.TurnUsage.objects.all()
    assert usage.owner_id == chatkit_user.pk and usage.thread_id is None
    assert usage.estimated
    assert usage.input_tokens > 0 and usage.output_tokens >= len(turn.text) // 4
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_deleting_threads_mid_turn_does_not_escape_the_budget(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider, settings
):
    # One token: the first turn's charge spends the day's allowance, whatever it is.
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": 1}
    owner = live_asgi.chatkit(chatkit_user)
    first = stream_turn(
        live_asgi.http(chatkit_user),
        "threads.create",
        after_deltas(1, lambda turn: owner.delete_thread(turn.thread_id)),
        **create_params("Spend something"),
    )
    assert first.status == 200 and first.deltas

    second = stream_turn(
        live_asgi.http(chatkit_user), "threads.create", **create_params("And again")
    )
    assert [event.type for event in second.events] == ["error"]
    assert "allowance" in second.errors[0].message
    assert len(slow_provider.streams) == 1


def test_usage_of_a_thread_deleted_before_it_is_recorded_is_kept(chatkit_user):
    from asgiref.sync import async_to_sync

    from chatkit_backend.context import Owner, RequestContext
    from chatkit_backend.store import DjangoStore

    thread_id = make_thread(chatkit_user)
    models.Thread.objects.filter(id=thread_id).delete()
    context = RequestContext(owner=Owner(user_id=chatkit_user.pk), user=chatkit_user)
    async_to_sync(DjangoStore().record_usage)(
        thread_id, context, provider="openai", requests=1, total_tokens=42
    )
    [usage] = models.TurnUsage.objects.all()
    assert (usage.owner_id, usage.thread_id, usage.total_tokens) == (chatkit_user.pk, None, 42)
    # Fields the caller left out get their defaults; the row is dated now (the dashboard's day).
    assert (usage.model, usage.input_tokens, usage.estimated, usage.client_address) == (
        "",
        0,
        False,
        "",
    )
    assert abs((timezone.now() - usage.created_at).total_seconds()) < 60


def test_usage_with_a_misspelt_field_is_refused_and_nothing_is_stored(chatkit_user):
    from asgiref.sync import async_to_sync

    from chatkit_backend.context import Owner, RequestContext
    from chatkit_backend.store import DjangoStore

    context = RequestContext(owner=Owner(user_id=chatkit_user.pk), user=chatkit_user)
    with pytest.raises(TypeError, match="total_tokns"):
        async_to_sync(DjangoStore().record_usage)(
            None, context, provider="openai", requests=1, total_tokns=42
        )
    assert not models.TurnUsage.objects.exists()


# -- 4. a thread deleted during its first turn does not come back ------------------------------


def test_a_thread_deleted_before_its_first_answer_stays_deleted(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider
):
    owner = live_asgi.chatkit(chatkit_user)
    slow_provider.hold()  # the model says nothing until the thread is gone

    def delete_then_let_the_model_talk(turn):
        owner.delete_thread(turn.thread_id)
        slow_provider.release()

    turn = stream_turn(
        live_asgi.http(chatkit_user),
        "threads.create",
        on_thread_created(delete_then_let_the_model_talk),
        **create_params("Hello there"),
    )

    assert turn.status == 200 and turn.errors == []  # the turn stopped quietly
    assert owner.list_threads().data == []
    assert not models.Thread.objects.filter(id=turn.thread_id).exists()
    assert not models.ThreadItem.objects.exists()


# -- 5. changes made during a turn survive it --------------------------------------------------


def test_a_rename_and_a_close_made_during_the_first_turn_survive_it(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider
):
    owner = live_asgi.chatkit(chatkit_user)
    slow_provider.hold()

    def rename_close_then_answer(turn):
        owner.update_thread(turn.thread_id, "Renamed by its owner")
        # What the admin's "close" does to the row.
        models.Thread.objects.filter(id=turn.thread_id).update(
            status={"type": "closed", "reason": "Closed by an operator"}
        )
        slow_provider.release()

    turn = stream_turn(
        live_asgi.http(chatkit_user),
        "threads.create",
        on_thread_created(rename_close_then_answer),
        **create_params("A question whose words would make the title"),
    )
    assert turn.status == 200 and turn.text == SLOW_ANSWER

    thread = owner.get_thread(turn.thread_id)
    assert thread.title == "Renamed by its owner"
    assert thread.status.type == "closed"
    response = owner.request(
        "threads.add_user_message", thread_id=turn.thread_id, input=message_input("Still here?")
    )
    assert response.status == 409
    assert response.json()["error"]["code"] == "thread_closed"


# -- 6. one turn per thread at a time -----------------------------------------------------------


def test_concurrent_retries_of_one_thread_run_one_turn(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider
):
    question = user_message("Which one?")
    thread_id = make_thread(chatkit_user, question)
    slow_provider.hold()  # the admitted turn stays in flight while the others arrive
    retries = 5

    def retry():
        return stream_turn(
            live_asgi.http(chatkit_user),
            "threads.retry_after_item",
            thread_id=thread_id,
            item_id=question.id,
        )

    pool = ThreadPoolExecutor(max_workers=retries)
    try:
        futures = [pool.submit(retry) for _ in range(retries)]
        refused = []
        for future in as_completed(futures, timeout=10):
            refused.append(future.result())
            if len(refused) == retries - 1:
                break
    finally:
        slow_provider.release()
        pool.shutdown(wait=True)
    turns = [future.result() for future in futures]

    answered = [turn for turn in turns if turn.status == 200]
    conflicts = [turn for turn in turns if turn.status == 409]
    assert len(answered) == 1 and len(conflicts) == retries - 1
    assert answered[0].text == SLOW_ANSWER and answered[0].errors == []
    for conflict in conflicts:
        assert conflict.content_type == "application/json"
        assert conflict.error_code == "turn_in_progress"
    assert len(slow_provider.streams) == 1
    items = models.ThreadItem.objects.filter(thread_id=thread_id).order_by("created_at", "seq")
    assert [item.type for item in items] == ["user_message", "assistant_message"]

    # Once the turn is over, the thread takes the next one.
    again = retry()
    assert again.status == 200 and again.text == SLOW_ANSWER


def test_a_turn_holds_its_thread_past_the_lease_while_it_runs(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider, settings
):
    # A lease of one second, renewed while the turn runs: a turn of several seconds keeps it.
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "TURN_LEASE_SECONDS": 1}
    question = user_message("Long answer please")
    thread_id = make_thread(chatkit_user, question)
    seen: list = []

    def try_another_turn(turn):
        seen.append(
            stream_turn(
                live_asgi.http(chatkit_user),
                "threads.add_user_message",
                thread_id=thread_id,
                input=message_input("Me too"),
            )
        )

    first = stream_turn(
        live_asgi.http(chatkit_user),
        "threads.retry_after_item",
        # About two seconds in: twice the lease.
        after_deltas(12, try_another_turn),
        thread_id=thread_id,
        item_id=question.id,
    )
    assert first.status == 200 and first.text == SLOW_ANSWER
    [second] = seen
    assert second.status == 409 and second.error_code == "turn_in_progress"


def test_a_claim_left_by_a_dead_worker_expires(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider
):
    question = user_message("Anyone?")
    thread_id = make_thread(chatkit_user, question)
    # What a worker killed in the middle of a turn leaves behind: a claim nobody renews.
    claim = models.Thread.objects.filter(id=thread_id)
    claim.update(
        turn_lease="a-dead-worker", turn_lease_until=timezone.now() + timedelta(seconds=30)
    )
    client = live_asgi.http(chatkit_user)
    params = {"thread_id": thread_id, "input": message_input("Hello?")}

    refused = stream_turn(client, "threads.add_user_message", **params)
    assert refused.status == 409 and refused.error_code == "turn_in_progress"
    assert models.ThreadItem.objects.filter(thread_id=thread_id).count() == 1

    # Its time passes (here, without waiting for it): the next turn takes the thread.
    claim.update(turn_lease_until=timezone.now() - timedelta(seconds=1))
    answered = stream_turn(client, "threads.add_user_message", **params)
    assert answered.status == 200 and answered.text == SLOW_ANSWER


def test_a_disconnected_turn_frees_its_thread(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider
):
    first = stream_turn(
        live_asgi.http(chatkit_user),
        "threads.create",
        after_deltas(2, lambda turn: DISCONNECT),
        **create_params("Start"),
    )
    assert first.disconnected
    [record] = slow_provider.streams
    assert record.ended.wait(5) and not record.finished

    def next_turn():
        turn = stream_turn(
            live_asgi.http(chatkit_user),
            "threads.add_user_message",
            thread_id=first.thread_id,
            input=message_input("Go on"),
        )
        return turn if turn.status != 409 else None

    # The server notices the disconnect a moment later; then the thread is free.
    turn = wait_until(next_turn, timeout=5, message="the thread stayed claimed")
    assert turn.status == 200 and turn.text == SLOW_ANSWER


# -- 7. every op that makes the agent answer respects locked and closed threads ----------------


def pending_client_tool_call() -> ClientToolCallItem:
    return ClientToolCallItem(
        id=generate_id("tool_call"),
        thread_id="pending",
        created_at=datetime.now(),
        call_id="call_1",
        name="read_selection",
        arguments={},
    )


def pending_structured_input() -> StructuredInputItem:
    return StructuredInputItem(
        id=generate_id("message"),
        thread_id="pending",
        created_at=datetime.now(),
        inputs=[StructuredInputFreeform(id="color", question="Favourite colour?")],
    )


AGENT_OPS = {
    "custom_action": (
        lambda: [],
        lambda items: {"action": {"type": "go", "payload": {"x": 1}}},
    ),
    "add_client_tool_output": (
        lambda: [user_message("Read it"), pending_client_tool_call()],
        lambda items: {"result": {"text": "selected"}},
    ),
    "add_structured_input": (
        lambda: [user_message("Ask me"), pending_structured_input()],
        lambda items: {
            "item_id": items[-1].id,
            "input": {"answers": {"color": {"values": ["blue"]}}},
        },
    ),
    "retry_after_item": (
        lambda: [user_message("Again")],
        lambda items: {"item_id": items[0].id},
    ),
    "add_user_message": (lambda: [], lambda items: {"input": message_input("Hello?")}),
}


@pytest.mark.parametrize("status", ["closed", "locked"])
@pytest.mark.parametrize("op", sorted(AGENT_OPS))
def test_agent_ops_refuse_locked_and_closed_threads(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider, op, status
):
    make_items, make_params = AGENT_OPS[op]
    items = make_items()
    thread_id = make_thread(chatkit_user, *items, status={"type": status, "reason": "Done"})
    before = list(models.ThreadItem.objects.order_by("seq").values_list("data", flat=True))

    turn = stream_turn(
        live_asgi.http(chatkit_user), f"threads.{op}", thread_id=thread_id, **make_params(items)
    )
    assert turn.status == 409, turn.events
    assert turn.content_type == "application/json"
    assert turn.error_code == f"thread_{status}"
    assert list(models.ThreadItem.objects.order_by("seq").values_list("data", flat=True)) == before
    assert slow_provider.model_requests() == []
