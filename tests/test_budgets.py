"""``DAILY_TOKEN_BUDGET`` under attack, over real HTTP with a slow loopback provider.

Each turn reserves ``TURN_TOKEN_RESERVATION`` tokens on its owner's counter for the day before
it starts (one conditional UPDATE), and settles the reservation to what it spent when it ends:
the provider's figures, or an estimate when the turn ended before the provider reported them.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit_backend import models
from chatkit_backend.testing import LiveServer, message_input
from tests.support.db import make_thread, user_message
from tests.support.fake_provider import FakeProvider
from tests.support.turn_streams import (
    DISCONNECT,
    SLOW_ANSWER,
    after_deltas,
    create_params,
    provider_settings,
    stream_turn,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def budget(settings, tokens: int, reservation: int | None = None) -> None:
    extra = {"TURN_TOKEN_RESERVATION": reservation} if reservation is not None else {}
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": tokens, **extra}


def charged(user) -> int:
    return (
        models.TurnUsage.objects.filter(owner=user).aggregate(total=Sum("total_tokens"))["total"]
        or 0
    )


def counter(user) -> models.DailyUsage:
    return models.DailyUsage.objects.get(owner=user)


def test_simultaneous_turns_cannot_overspend_the_budget(
    live_asgi: LiveServer, django_user_model, slow_provider: FakeProvider, settings
):
    user = django_user_model.objects.create_user(username="spender", password="pw")
    budget(settings, 500, reservation=200)
    turns = 30

    def one_turn(index: int):
        return stream_turn(
            live_asgi.http(user), "threads.create", **create_params(f"Question {index}")
        )

    with ThreadPoolExecutor(max_workers=turns) as pool:
        results = list(pool.map(one_turn, range(turns)))

    assert all(result.status == 200 for result in results)
    answered = [result for result in results if result.text]
    refused = [result for result in results if not result.text]
    assert answered and refused
    for result in answered:
        assert result.text == SLOW_ANSWER and result.errors == []
    for result in refused:
        assert [event.type for event in result.events] == ["error"]
        assert "allowance" in result.errors[0].message
    # Every answer was charged what the provider reported; together they overshoot the budget
    # by less than one turn's reservation, and no reservation is left open.
    usage = list(models.TurnUsage.objects.filter(owner=user))
    assert len(usage) == len(answered) == len(slow_provider.streams)
    assert not any(row.estimated for row in usage)
    assert charged(user) < 500 + 200
    day = counter(user)
    assert (day.spent, day.reserved) == (charged(user), 0)
    assert models.Thread.objects.filter(owner=user).count() == len(answered)


def test_a_client_that_leaves_before_the_end_is_charged_an_estimate(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider, settings
):
    budget(settings, 10_000)
    words = len(SLOW_ANSWER.split())
    turn = stream_turn(
        live_asgi.http(chatkit_user),
        "threads.create",
        after_deltas(words - 1, lambda turn: DISCONNECT),
        **create_params("Nearly all of it, please"),
    )
    assert turn.disconnected and len(turn.deltas) == words - 1
    [record] = slow_provider.streams
    assert record.ended.wait(5) and not record.finished

    [usage] = models.TurnUsage.objects.filter(owner=chatkit_user)
    assert usage.estimated and usage.thread_id == turn.thread_id
    # Output: the text streamed so far at four characters a token, rounded up (the server may
    # have streamed a delta more than the client read before it noticed).
    assert math.ceil(len(turn.text) / 4) <= usage.output_tokens <= math.ceil(len(SLOW_ANSWER) / 4)
    assert usage.input_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    day = counter(chatkit_user)
    assert (day.spent, day.reserved) == (usage.total_tokens, 0)


def test_a_turn_the_provider_breaks_off_is_charged_an_estimate(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider, settings
):
    budget(settings, 10_000)
    slow_provider.error_next(after_events=6)  # the role chunk, then five words
    turn = stream_turn(live_asgi.http(chatkit_user), "threads.create", **create_params("Hi"))
    assert [error.allow_retry for error in turn.errors] == [True]
    assert len(turn.deltas) == 5

    [usage] = models.TurnUsage.objects.filter(owner=chatkit_user)
    assert usage.estimated
    assert usage.output_tokens == math.ceil(len(turn.text) / 4)
    assert counter(chatkit_user).reserved == 0


def test_a_finished_turn_is_settled_to_what_the_provider_reported(
    live_asgi: LiveServer, chatkit_user, slow_provider: FakeProvider, settings
):
    budget(settings, 10_000, reservation=3_000)
    turn = stream_turn(live_asgi.http(chatkit_user), "threads.create", **create_params("Hi"))
    assert turn.text == SLOW_ANSWER

    [usage] = models.TurnUsage.objects.filter(owner=chatkit_user)
    assert not usage.estimated
    assert usage.output_tokens == len(SLOW_ANSWER.split())  # what the provider reported
    day = counter(chatkit_user)
    assert (day.spent, day.reserved) == (usage.total_tokens, 0)


# -- the budget's promise, under random interleavings ------------------------------------------

RESERVATION = 300
FAST_ANSWER = " ".join(f"tok{n:02d}" for n in range(12))
_owners = itertools.count()


@dataclass(frozen=True)
class Job:
    op: str  # "create", "send" or "retry"
    slot: int  # which of the owner's existing threads "send" and "retry" use
    ending: str  # "complete", "disconnect" or "delete" (the thread, by another request)
    after: int  # text deltas read before a disconnect or delete
    start: float  # seconds after the others it starts


JOBS = st.builds(
    Job,
    op=st.sampled_from(["create", "send", "retry"]),
    slot=st.integers(0, 1),
    ending=st.sampled_from(["complete", "disconnect", "delete"]),
    after=st.integers(1, 10),
    start=st.sampled_from([0.0, 0.0, 0.05, 0.15]),
)


@pytest.fixture
def fast_provider(settings):
    with FakeProvider(event_delay=(0.005, 0.02), default_answer=FAST_ANSWER) as provider:
        with provider_settings(settings, provider, TURN_TOKEN_RESERVATION=RESERVATION):
            yield provider


def run_job(live: LiveServer, user, job: Job, slots: list[tuple[str, str]]):
    time.sleep(job.start)
    owner = live.chatkit(user)

    def end(turn):
        if job.ending == "disconnect":
            return DISCONNECT
        if job.ending == "delete":
            owner.request("threads.delete", thread_id=turn.thread_id or slots[job.slot][0])
        return None

    on_event = None if job.ending == "complete" else after_deltas(job.after, end)
    thread_id, item_id = slots[job.slot]
    if job.op == "create":
        turn = stream_turn(live.http(user), "threads.create", on_event, **create_params("Hi"))
    elif job.op == "send":
        turn = stream_turn(
            live.http(user),
            "threads.add_user_message",
            on_event,
            thread_id=thread_id,
            input=message_input("More"),
        )
    else:
        turn = stream_turn(
            live.http(user),
            "threads.retry_after_item",
            on_event,
            thread_id=thread_id,
            item_id=item_id,
        )
    return turn, turn.thread_id or thread_id


@settings(
    max_examples=int(os.environ.get("BUDGET_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(jobs=st.lists(JOBS, min_size=1, max_size=6), allowance=st.sampled_from([200, 500, 900]))
def test_the_budget_holds_whatever_the_interleaving(
    live_asgi: LiveServer, django_user_model, fast_provider, settings, jobs, allowance
):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": allowance}
    user = django_user_model.objects.create_user(username=f"owner-{next(_owners)}")
    slots = []
    for _ in range(2):
        question = user_message("A question")
        slots.append((make_thread(user, question), question.id))

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        outcomes = list(pool.map(lambda job: run_job(live_asgi, user, job, slots), jobs))

    for turn, _ in outcomes:
        assert turn.status in (200, 404, 409), (turn.status, turn.body)
        if turn.status == 409:
            assert turn.error_code == "turn_in_progress"
    streamed = [(turn, thread_id) for turn, thread_id in outcomes if turn.deltas]

    def settled() -> bool:
        rows = models.TurnUsage.objects.filter(owner=user)
        if rows.count() < len(streamed):
            return False
        day = models.DailyUsage.objects.filter(owner=user).first()
        return day is None or day.reserved == 0

    wait_until(settled, timeout=10, message="a turn that streamed text was not charged")
    usage = list(models.TurnUsage.objects.filter(owner=user))
    # Each turn costs less than its reservation here, so together they overshoot the budget by
    # less than one reservation.
    assert all(row.total_tokens <= RESERVATION for row in usage)
    assert sum(row.total_tokens for row in usage) < allowance + RESERVATION
    # Every turn that streamed text is charged, on its thread while the thread exists.
    for thread_id in {thread_id for _, thread_id in streamed}:
        if models.Thread.objects.filter(id=thread_id).exists():
            expected = sum(1 for _, tid in streamed if tid == thread_id)
            assert sum(1 for row in usage if row.thread_id == thread_id) >= expected
    day = models.DailyUsage.objects.get(owner=user)
    assert (day.spent, day.reserved) == (sum(row.total_tokens for row in usage), 0)
