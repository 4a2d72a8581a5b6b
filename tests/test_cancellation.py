"""The client disconnects mid-stream against a real ASGI server.

Expected: Django cancels the response task, the ChatKit SDK stores the
partial answer and its hidden cancel note, and our orchestrator cancels the Agents run, so the
model stream stops instead of talking to nobody.
"""

from __future__ import annotations

import json
import time

import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message
from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    ThreadCreatedEvent,
    ThreadItemUpdatedEvent,
)

from chatkit_backend import models
from chatkit_backend.testing import LiveServer, message_input
from chatkit_backend.testing.wire import EVENT_ADAPTER
from tests.support.slow_stream import SlowTextStream

pytestmark = pytest.mark.django_db(transaction=True)

API = "/chatkit/api"
CANCEL_NOTE = "The user cancelled the stream. Stop responding to the prior request."
DELTAS = 200  # 10 s of model output at 0.05 s a delta: far longer than any test waits
READ_DELTAS = 4


def stream_then_disconnect(live: LiveServer, user, text: str) -> tuple[str, str]:
    """Start ``threads.create``, read a few text deltas, drop the connection.

    Returns the thread id and the text the client received.
    """
    thread_id, received, deltas = None, "", 0
    http = live.http(user)
    with http.stream(
        "POST", API, json={"type": "threads.create", "params": {"input": message_input(text)}}
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line:
                continue
            event = EVENT_ADAPTER.validate_json(line[len("data: ") :])
            if isinstance(event, ThreadCreatedEvent):
                thread_id = event.thread.id
            elif isinstance(event, ThreadItemUpdatedEvent) and isinstance(
                event.update, AssistantMessageContentPartTextDelta
            ):
                received += event.update.delta
                deltas += 1
                if deltas == READ_DELTAS:
                    break
    # Leaving the block closes the half-read response: httpx drops the connection.
    http.close()
    assert thread_id is not None
    return thread_id, received


def stored_items(thread_id: str) -> list[models.ThreadItem]:
    return list(models.ThreadItem.objects.filter(thread_id=thread_id).order_by("created_at", "seq"))


def wait_for_cancel_note(thread_id: str, timeout: float = 5.0) -> list[models.ThreadItem]:
    deadline = time.monotonic() + timeout
    while True:
        items = stored_items(thread_id)
        if any(item.type == "sdk_hidden_context" for item in items):
            return items
        if time.monotonic() > deadline:
            raise AssertionError(
                f"No cancel note stored after {timeout}s: {[i.type for i in items]}"
            )
        time.sleep(0.02)


def disconnect_mid_stream(live: LiveServer, user, model: ScriptedModel):
    stream = SlowTextStream.words(DELTAS, delay=0.05)
    model.enqueue(ModelStep.stream(stream))
    thread_id, received = stream_then_disconnect(live, user, "Count to two hundred, slowly")
    items = wait_for_cancel_note(thread_id)
    return stream, thread_id, received, items


def test_disconnect_stores_partial_answer_and_stops_the_run(
    live_asgi: LiveServer, chatkit_user, model: ScriptedModel
):
    stream, thread_id, received, items = disconnect_mid_stream(live_asgi, chatkit_user, model)

    # The partial answer and the SDK's cancel note are stored, after the user's message.
    assert [item.type for item in items] == [
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]
    partial = "".join(part["text"] for part in items[1].data["content"])
    assert received and partial.startswith(received)
    assert len(partial) < len(stream.full_text)
    assert items[2].data["content"] == CANCEL_NOTE

    # The Agents run stopped: the model stream was closed early, far from its end...
    assert stream.ended.wait(5), "the model stream is still running"
    assert stream.closed_early and not stream.completed, stream.exit_reason
    assert stream.produced < DELTAS // 4
    # ...and stays stopped.
    produced = stream.produced
    time.sleep(0.3)
    assert stream.produced == produced
    assert len(model.calls) == 1

    # The client sees the partial answer on reload, but never the hidden note.
    page = live_asgi.chatkit(chatkit_user).list_items(thread_id, order="asc")
    assert [item.type for item in page.data] == ["user_message", "assistant_message"]
    assert page.data[1].id == items[1].item_id
    assert "".join(part.text for part in page.data[1].content) == partial
    thread = live_asgi.chatkit(chatkit_user).get_thread(thread_id)
    assert [item.type for item in thread.items.data] == ["user_message", "assistant_message"]


def test_next_turn_after_a_cancelled_one_sees_the_cancel_note(
    live_asgi: LiveServer, chatkit_user, model: ScriptedModel
):
    _, thread_id, _, items = disconnect_mid_stream(live_asgi, chatkit_user, model)
    partial = "".join(part["text"] for part in items[1].data["content"])

    model.enqueue([assistant_message("Sorry, stopping there. What next?")])
    client = live_asgi.chatkit(chatkit_user)
    turn = client.send(thread_id, "Never mind")
    assert turn.errors == []
    assert turn.assistant_text == "Sorry, stopping there. What next?"

    # The model got the history: the partial answer, then the cancel note, then the new message.
    sent = json.dumps(model.calls[-1].input)
    assert CANCEL_NOTE in sent
    assert partial.strip() in sent
    assert sent.index(partial.strip()) < sent.index(CANCEL_NOTE) < sent.index("Never mind")

    page = client.list_items(thread_id, order="asc")
    assert [item.type for item in page.data] == [
        "user_message",
        "assistant_message",
        "user_message",
        "assistant_message",
    ]
    assert [item.type for item in stored_items(thread_id)] == [
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
        "user_message",
        "assistant_message",
    ]
