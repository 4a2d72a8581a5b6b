"""The access policy extension point, the thread_changed signal and server-side appends."""

import pytest
from agents.testing import assistant_message
from asgiref.sync import async_to_sync

from chatkit_backend import models
from chatkit_backend.access import AccessPolicy
from chatkit_backend.signals import thread_changed
from chatkit_backend.threads import append_assistant_message

pytestmark = pytest.mark.django_db(transaction=True)


class StaffReadsEverything(AccessPolicy):
    def threads(self, context, *, write):
        if not write and context.user is not None and context.user.is_staff:
            return models.Thread.objects.all()
        return super().threads(context, write=write)


@pytest.fixture
def staff_policy(settings):
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "ACCESS_POLICY": "tests.test_access_policy.StaffReadsEverything",
    }


def test_a_policy_can_let_staff_read_but_not_write(
    chatkit_client, other_client, other_user, model, staff_policy
):
    model.enqueue([assistant_message("private")])
    thread_id = chatkit_client.create_thread("question").thread_id
    assert other_client.request("threads.get_by_id", thread_id=thread_id).status == 404

    other_user.is_staff = True
    other_user.save()
    assert other_client.get_thread(thread_id).title == "question"
    assert len(other_client.list_items(thread_id).data) == 2
    # Writing is still the owner's alone.
    assert other_client.request("threads.update", thread_id=thread_id, title="x").status == 404
    assert other_client.request("threads.delete", thread_id=thread_id).status == 404
    assert models.Thread.objects.get(id=thread_id).title == "question"


@pytest.mark.parametrize(
    "op",
    [
        "threads.add_user_message",
        "threads.retry_after_item",
        "threads.custom_action",
        "threads.add_client_tool_output",
    ],
)
def test_staff_who_may_only_read_get_404_for_streaming_writes(
    chatkit_client, other_client, other_user, model, staff_policy, op
):
    # Answered before the stream starts: a 200 followed by a broken stream is no answer.
    model.enqueue([assistant_message("private")])
    created = chatkit_client.create_thread("question")
    thread_id = created.thread_id
    user_item_id = next(item.id for item in created.items if item.type == "user_message")
    other_user.is_staff = True
    other_user.save()
    user_input = {
        "content": [{"type": "input_text", "text": "hijack"}],
        "attachments": [],
        "inference_options": {},
    }
    params = {
        "threads.add_user_message": {"thread_id": thread_id, "input": user_input},
        "threads.retry_after_item": {"thread_id": thread_id, "item_id": user_item_id},
        "threads.custom_action": {
            "thread_id": thread_id,
            "item_id": None,
            "action": {"type": "noop", "payload": {}},
        },
        "threads.add_client_tool_output": {"thread_id": thread_id, "result": {}},
    }[op]
    before = list(models.ThreadItem.objects.order_by("seq").values())
    response = other_client.request(op, **params)
    assert response.status == 404, response.content
    assert response.headers["content-type"] == "application/json"
    assert list(models.ThreadItem.objects.order_by("seq").values()) == before


def test_every_write_is_announced_after_commit(chatkit_client, model):
    seen = []

    def receiver(sender, thread_id, context, change, **kwargs):
        seen.append((thread_id, change))

    thread_changed.connect(receiver)
    try:
        model.enqueue([assistant_message("hi")])
        thread_id = chatkit_client.create_thread("hello").thread_id
        chatkit_client.update_thread(thread_id, "renamed")
        chatkit_client.delete_thread(thread_id)
    finally:
        thread_changed.disconnect(receiver)
    changes = [change for tid, change in seen if tid == thread_id]
    assert changes[0] == "thread" and "item" in changes and changes[-1] == "deleted"


def test_server_code_can_append_to_a_thread(chatkit_client, model):
    model.enqueue([assistant_message("bot answer")])
    thread_id = chatkit_client.create_thread("I need a human").thread_id
    item = async_to_sync(append_assistant_message)(thread_id, "An operator here, hello!")
    items = chatkit_client.list_items(thread_id, order="asc").data
    assert items[-1].id == item.id
    assert items[-1].content[0].text == "An operator here, hello!"
