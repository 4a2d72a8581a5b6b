"""``ON_DISCONNECT = "finish"``: the answer survives a closed tab.

Against a real ASGI server (uvicorn in a thread, HTTP and the live socket) and a slow loopback
provider (one chunk every 100-200 ms, usage reported at the end): the client reads the first
text delta and drops the connection, as a closed tab does.
"""

from __future__ import annotations

import json
import time

import pytest
from chatkit.types import AssistantMessageItem
from rest_framework_simplejwt.tokens import AccessToken

from chatkit_backend import models
from chatkit_backend.testing import LiveServer
from tests.support.live_site import Listener, ws_url
from tests.support.turn_streams import (
    DISCONNECT,
    SLOW_ANSWER,
    after_deltas,
    create_params,
    stream_turn,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CANCEL_NOTE = "The user cancelled the stream. Stop responding to the prior request."


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw")


def finish(settings, **extra) -> None:
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ON_DISCONNECT": "finish", **extra}


def start_and_leave(live: LiveServer, user) -> str:
    """Start a turn, read the first text delta, drop the connection; the thread id."""
    turn = stream_turn(
        live.http(user),
        "threads.create",
        on_event=after_deltas(1, lambda _turn: DISCONNECT),
        **create_params("Tell me a long story"),
    )
    assert turn.disconnected and turn.thread_id
    return turn.thread_id


def answers(live: LiveServer, user, thread_id: str) -> list[AssistantMessageItem]:
    """What a reload shows: ``items.list`` over HTTP, the assistant messages in it."""
    page = live.chatkit(user).list_items(thread_id, order="asc")
    return [item for item in page.data if isinstance(item, AssistantMessageItem)]


def text_of(item: AssistantMessageItem) -> str:
    return "".join(part.text for part in item.content)


def cancel_note(thread_id: str, timeout: float, message: str) -> models.ThreadItem:
    """The SDK's cancellation note in ``thread_id``, once a cut-off run has stored it."""
    return wait_until(
        lambda: models.ThreadItem.objects.filter(
            thread_id=thread_id, type="sdk_hidden_context"
        ).first(),
        timeout=timeout,
        message=message,
    )


def test_the_answer_is_finished_and_stored_after_a_disconnect(
    live_site, slow_provider, alice, settings
):
    finish(settings, DAILY_TOKEN_BUDGET=100_000)
    listener = Listener(ws_url(live_site.url), str(AccessToken.for_user(alice)))
    try:
        thread_id = start_and_leave(live_site, alice)

        # A reload mid-run: the user's message and a partial answer.
        partial = wait_until(
            lambda: [a for a in answers(live_site, alice, thread_id) if text_of(a)],
            timeout=5,
            message="no partial answer was stored",
        )
        assert len(partial) == 1
        partial_text = text_of(partial[0])
        assert SLOW_ANSWER.startswith(partial_text) and partial_text != SLOW_ANSWER

        # The run goes on to the end: the whole answer, in place (same id, no duplicate).
        wait_until(
            lambda: text_of(answers(live_site, alice, thread_id)[0]) == SLOW_ANSWER,
            timeout=15,
            message="the answer was never finished",
        )
        final = answers(live_site, alice, thread_id)
        assert [item.id for item in final] == [partial[0].id]
        items = models.ThreadItem.objects.filter(thread_id=thread_id)
        assert not items.filter(type="sdk_hidden_context").exists()  # not cut off

        # Usage and the budget count it once the turn has settled.
        usage = wait_until(
            lambda: list(models.TurnUsage.objects.filter(thread_id=thread_id)),
            message="no usage row",
        )
        assert sum(row.total_tokens for row in usage) > 0
        counter = models.DailyUsage.objects.get(owner=alice)
        assert counter.spent == sum(row.total_tokens for row in usage) and counter.reserved == 0
        wait_until(
            lambda: not models.Thread.objects.filter(id=thread_id, turn_lease__gt="").exists(),
            message="the thread was never released",
        )

        # The owner's socket heard of the stored answer.
        listener.wait_for({"type": "thread.changed", "thread_id": thread_id, "reason": "items"})
    finally:
        listener.close()


def test_a_detached_run_is_cut_off_after_max_detached_seconds(
    live_site, slow_provider, alice, settings
):
    finish(settings, MAX_DETACHED_SECONDS=0.6)
    thread_id = start_and_leave(live_site, alice)
    note = cancel_note(thread_id, timeout=10, message="the run was not cut off")
    assert note.data["content"] == CANCEL_NOTE
    [answer] = answers(live_site, alice, thread_id)
    assert text_of(answer) and text_of(answer) != SLOW_ANSWER
    wait_until(lambda: models.TurnUsage.objects.filter(thread_id=thread_id).exists())


def test_cancel_stops_the_run_as_before(live_site, slow_provider, alice):
    thread_id = start_and_leave(live_site, alice)
    cancel_note(thread_id, timeout=10, message="no cancel note")
    [answer] = answers(live_site, alice, thread_id)
    assert text_of(answer) != SLOW_ANSWER


def test_a_stop_sent_over_the_socket_stops_a_detached_run(
    live_site, slow_provider, alice, django_user_model, settings
):
    """The page's stop button aborts the fetch; the page, still alive, says so on the socket."""
    finish(settings)
    bob = django_user_model.objects.create_user("bob", password="pw")
    thread_id = start_and_leave(live_site, alice)
    intruder = Listener(ws_url(live_site.url), str(AccessToken.for_user(bob)))
    owner = Listener(ws_url(live_site.url), str(AccessToken.for_user(alice)))
    try:
        intruder.socket.send(json.dumps({"type": "stop", "thread_id": thread_id}))
        time.sleep(0.5)
        assert not models.ThreadItem.objects.filter(
            thread_id=thread_id, type="sdk_hidden_context"
        ).exists()  # someone else's stop is ignored

        owner.socket.send(json.dumps({"type": "stop", "thread_id": thread_id}))
        note = cancel_note(thread_id, timeout=5, message="the stop was not heard")
        assert note.data["content"] == CANCEL_NOTE
        [answer] = answers(live_site, alice, thread_id)
        assert text_of(answer) != SLOW_ANSWER
    finally:
        intruder.close()
        owner.close()
