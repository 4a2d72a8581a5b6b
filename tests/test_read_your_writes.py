"""Read-your-writes over real HTTP, on the lean path: a turn holds its writes until its last
hop, which runs before the stream's last byte, so the client's next request sees them all.
"""

from __future__ import annotations

import pytest
from agents.testing import assistant_message
from chatkit.types import AssistantMessageItem, Attachment, UserMessageItem
from pydantic import TypeAdapter

from chatkit_backend import models
from tests.support.files import PNG

pytestmark = pytest.mark.django_db(transaction=True)

ATTACHMENT = TypeAdapter(Attachment)


def answers(page) -> list[str]:
    return [
        part.text
        for item in page.data
        if isinstance(item, AssistantMessageItem)
        for part in item.content
    ]


def test_right_after_a_stream_the_answer_and_title_are_there(live_asgi, chatkit_user, model):
    api = live_asgi.chatkit(chatkit_user)
    model.enqueue([assistant_message("the first answer")])
    created = api.create_thread("Where is my order?")
    thread_id = created.thread_id
    # The very next requests, on new connections: nothing waits for the turn's writes.
    thread = live_asgi.chatkit(chatkit_user).get_thread(thread_id)
    assert thread.title == "Where is my order?"
    assert answers(thread.items) == ["the first answer"]
    for turn in range(3):
        model.enqueue([assistant_message(f"answer {turn}")])
        assert api.send(thread_id, f"question {turn}").assistant_text == f"answer {turn}"
        page = live_asgi.chatkit(chatkit_user).list_items(thread_id, order="desc", limit=1)
        assert answers(page) == [f"answer {turn}"]
    history = live_asgi.chatkit(chatkit_user).list_items(thread_id, order="asc", limit=20)
    assert answers(history) == ["the first answer", "answer 0", "answer 1", "answer 2"]
    assert [item.content[0].text for item in history.data if isinstance(item, UserMessageItem)] == [
        "Where is my order?",
        "question 0",
        "question 1",
        "question 2",
    ]
    row = models.Thread.objects.get(id=thread_id)
    assert row.turn_lease == "" and row.title == "Where is my order?"  # released, titled
    assert models.TurnUsage.objects.filter(thread_id=thread_id).count() == 4


def test_the_model_sees_the_turns_own_message_and_the_previous_answer(
    live_asgi, chatkit_user, model
):
    api = live_asgi.chatkit(chatkit_user)
    model.enqueue([assistant_message("one")])
    thread_id = api.create_thread("first").thread_id
    model.enqueue([assistant_message("two")])
    api.send(thread_id, "second")
    sent = str(model.calls[-1].input)
    assert "first" in sent and "one" in sent and "second" in sent


def test_threads_create_with_an_attachment(live_asgi, chatkit_user, model):
    http = live_asgi.http(chatkit_user)
    uploaded = http.post("/chatkit/api/upload", files={"file": ("a.png", PNG, "image/png")})
    assert uploaded.status_code == 200, uploaded.text
    attachment = ATTACHMENT.validate_json(uploaded.content)
    model.enqueue([assistant_message("a nice picture")])
    api = live_asgi.chatkit(chatkit_user)
    created = api.create_thread("What is this?", attachments=[attachment.id])
    assert created.errors == [] and created.assistant_text == "a nice picture"
    [message] = [i for i in created.items if isinstance(i, UserMessageItem)]
    assert [a.id for a in message.attachments] == [attachment.id]
    thread = live_asgi.chatkit(chatkit_user).get_thread(created.thread_id)
    [stored] = [i for i in thread.items.data if isinstance(i, UserMessageItem)]
    assert [a.id for a in stored.attachments] == [attachment.id]
    assert answers(thread.items) == ["a nice picture"]
    row = models.Attachment.objects.get(id=attachment.id)
    assert row.thread_id in (None, created.thread_id)


def test_a_turn_refused_before_it_streams_leaves_no_new_thread(live_asgi, chatkit_user, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENT_MAX_PER_MESSAGE": 1}
    api = live_asgi.chatkit(chatkit_user)
    refused = api.request(
        "threads.create",
        input={
            "content": [{"type": "input_text", "text": "x"}],
            "attachments": ["atc_missing"],
            "inference_options": {},
        },
    )
    assert refused.status == 404
    assert models.Thread.objects.count() == 0


def test_a_client_that_acts_on_thread_created_at_once_finds_its_thread(
    live_asgi, chatkit_user, model, monkeypatch
):
    """``thread.created`` reaches the client only once the thread is stored: a page that
    renames (or reads) the new thread the moment it hears of it is not told 404, however
    slowly the store writes it."""
    import time

    from chatkit_backend.store import DjangoStore
    from tests.support.turn_streams import create_params, on_thread_created, stream_turn

    write = DjangoStore._upsert_item

    def slow_write(self, *args, **kwargs):
        time.sleep(0.3)  # the hop that stores the new thread and the user's message
        return write(self, *args, **kwargs)

    monkeypatch.setattr(DjangoStore, "_upsert_item", slow_write)
    owner = live_asgi.chatkit(chatkit_user)
    model.enqueue([assistant_message("hello")])
    renamed: list[str] = []

    def rename(turn):
        owner.update_thread(turn.thread_id, "Named at once")
        renamed.append(turn.thread_id)

    turn = stream_turn(
        live_asgi.http(chatkit_user),
        "threads.create",
        on_thread_created(rename),
        **create_params("The first question"),
    )
    assert turn.status == 200 and renamed == [turn.thread_id]
    assert owner.get_thread(turn.thread_id).title == "Named at once"
