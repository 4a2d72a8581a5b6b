"""Two users over HTTP: every op aimed at the other's thread or item is 404 and changes nothing."""

import json

import pytest
from agents.testing import assistant_message

from chatkit_backend import models
from tests.support.db import snapshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def victim_thread(chatkit_client, model):
    model.enqueue([assistant_message("private answer")])
    result = chatkit_client.create_thread("my private question")
    user_item = result.items[0]
    answer = result.assistant_messages[0]
    return result.thread_id, user_item.id, answer.id


def message(text):
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def ops(thread_id, user_item_id, answer_id):
    action = {"type": "choose", "payload": {}}
    return [
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("threads.update", {"thread_id": thread_id, "title": "pwned"}),
        ("threads.delete", {"thread_id": thread_id}),
        ("items.list", {"thread_id": thread_id}),
        ("items.list", {"thread_id": thread_id, "after": answer_id}),
        ("items.feedback", {"thread_id": thread_id, "item_ids": [answer_id], "kind": "negative"}),
        ("threads.add_user_message", {"thread_id": thread_id, "input": message("hi")}),
        ("threads.add_client_tool_output", {"thread_id": thread_id, "result": {}}),
        (
            "threads.add_structured_input",
            {"thread_id": thread_id, "item_id": answer_id, "input": {"answers": {}}},
        ),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item_id}),
        ("threads.custom_action", {"thread_id": thread_id, "action": action}),
        ("threads.custom_action", {"thread_id": thread_id, "item_id": answer_id, "action": action}),
        ("threads.sync_custom_action", {"thread_id": thread_id, "action": action}),
    ]


def test_every_op_on_someone_elses_thread_is_404(victim_thread, other_client):
    before = snapshot()
    for op, params in ops(*victim_thread):
        response = other_client.request(op, **params)
        assert response.status == 404, (op, response.status, response.content)
        assert response.json()["error"]["code"] == "not_found"
        assert b"private" not in response.content
    assert snapshot() == before


def test_missing_ids_get_the_same_answer_as_someone_elses(
    victim_thread, chatkit_client, other_client
):
    for (op, theirs), (_, missing) in zip(
        ops(*victim_thread), ops("thr_missing", "msg_missing", "msg_missing2"), strict=True
    ):
        by_other = other_client.request(op, **theirs)
        by_owner = chatkit_client.request(op, **missing)
        assert (by_other.status, by_other.content) == (by_owner.status, by_owner.content), op


def test_threads_list_shows_only_your_own(victim_thread, other_client, model):
    assert other_client.list_threads().data == []
    model.enqueue([assistant_message("theirs")])
    own = other_client.create_thread("own question").thread_id
    assert [thread.id for thread in other_client.list_threads().data] == [own]
    response = other_client.request("threads.list", after=victim_thread[0])
    assert response.status == 404


def test_someone_elses_attachment_id_in_a_message_is_404(chatkit_client, other_user, model):
    models.Attachment.objects.create(
        id="atc_theirs",
        owner=other_user,
        name="secret.pdf",
        mime_type="application/pdf",
        data={
            "id": "atc_theirs",
            "type": "file",
            "name": "secret.pdf",
            "mime_type": "application/pdf",
        },
    )
    before = snapshot()
    response = chatkit_client.request(
        "threads.create",
        input={**message("see attached"), "attachments": ["atc_theirs"]},
    )
    assert response.status == 404
    assert snapshot() == before


@pytest.fixture
def victim_attachment(client):
    """An uploaded file of the victim's (``client`` is logged in by ``chatkit_client``)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/chatkit/api/upload", {"file": SimpleUploadedFile("private.txt", b"private", "text/plain")}
    )
    assert response.status_code == 200
    return json.loads(response.content)["id"]


def attachment_requests(attachment_id):
    """(method, path, kwargs) of the file endpoints aimed at someone's attachment."""
    return [
        ("get", f"/chatkit/attachments/{attachment_id}", {}),
        ("put", f"/chatkit/api/upload/{attachment_id}?token=x", {"data": b"x"}),
    ]


@pytest.mark.parametrize("intruder", ["second user", "anonymous visitor", "no credentials"])
def test_isolation_matrix(intruder, victim_thread, victim_attachment, other_client, settings):
    """Every op, and the file endpoints, aimed at another owner's thread, items and files."""
    from django.test import Client

    from chatkit_backend.testing import ChatKitClient

    if intruder == "second user":
        api, expected = other_client, 404
    elif intruder == "anonymous visitor":
        settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ALLOW_ANONYMOUS": True}
        api, expected = ChatKitClient(Client()), 404
    else:
        api, expected = ChatKitClient(Client()), 401
    before = snapshot()
    requests = [
        *ops(*victim_thread),
        ("attachments.delete", {"attachment_id": victim_attachment}),
        ("threads.create", {"input": {**message("mine"), "attachments": [victim_attachment]}}),
    ]
    for op, params in requests:
        response = api.request(op, **params)
        assert response.status == expected, (intruder, op, response.status)
        assert b"private" not in response.content
    for method, path, kwargs in attachment_requests(victim_attachment):
        response = getattr(api.transport, method)(path, **kwargs)
        # The upload URL's token is its credential: a bad one is 404 for everybody.
        wanted = 404 if "upload" in path else expected
        assert response.status_code == wanted, (intruder, path, response.status_code)
    assert snapshot() == before
