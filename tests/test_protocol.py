"""Every protocol op through the HTTP endpoint, parsed with chatkit's own types."""

import base64
import re
import typing
from pathlib import Path

import pytest
from agents.testing import assistant_message
from chatkit.types import (
    ChatKitReq,
    Page,
    StreamOptionsEvent,
    Thread,
    ThreadCreatedEvent,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadUpdatedEvent,
    UserMessageItem,
)
from pydantic import TypeAdapter

from chatkit_backend import models
from chatkit_backend.testing import parse_sse

pytestmark = pytest.mark.django_db(transaction=True)


def test_threads_create_streams_the_whole_turn(chatkit_client, model):
    model.enqueue([assistant_message("Hello, I can help.")])
    result = chatkit_client.create_thread("Hello")
    response = result.response
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    kinds = [type(event) for event in result.events]
    assert kinds[0] is ThreadCreatedEvent
    assert ThreadItemDoneEvent in kinds and StreamOptionsEvent in kinds
    assert ThreadItemAddedEvent in kinds and ThreadItemUpdatedEvent in kinds
    # Title from the first message, announced to the client.
    assert any(
        isinstance(e, ThreadUpdatedEvent) and e.thread.title == "Hello" for e in result.events
    )
    assert isinstance(result.items[0], UserMessageItem)
    assert result.assistant_text == "Hello, I can help."
    # Every frame is `data: <json>` followed by a blank line.
    assert response.content.startswith(b"data: {")
    assert response.content.endswith(b"}\n\n")
    assert parse_sse(response.content) == result.events


def test_ids_carry_sdk_prefixes_and_at_least_64_random_bits(chatkit_client, model):
    model.enqueue([assistant_message("ok", item_id="same-id-every-time")])
    result = chatkit_client.create_thread("Hello")
    assert result.thread_id.startswith("thr_")
    for item in result.items:
        prefix, random_part = item.id.split("_", 1)
        assert prefix == "msg"
        assert len(random_part) * 4 >= 64
        int(random_part, 16)


def test_threads_get_by_id(chatkit_client, model):
    model.enqueue([assistant_message("answer")])
    thread_id = chatkit_client.create_thread("question").thread_id
    thread = chatkit_client.get_thread(thread_id)
    assert isinstance(thread, Thread)
    assert thread.id == thread_id and thread.title == "question"
    assert [item.type for item in thread.items.data] == ["user_message", "assistant_message"]
    assert thread.status.type == "active"
    # Server-side metadata never reaches the client.
    models.Thread.objects.filter(id=thread_id).update(metadata={"crm_id": "secret-42"})
    raw = chatkit_client.request("threads.get_by_id", thread_id=thread_id)
    assert b"secret-42" not in raw.content
    assert raw.json().get("metadata", {}) == {}


def test_threads_list_update_delete(chatkit_client, model):
    model.extend([[assistant_message("1")], [assistant_message("2")]])
    first = chatkit_client.create_thread("first").thread_id
    second = chatkit_client.create_thread("second").thread_id
    page = chatkit_client.list_threads()
    assert isinstance(page, Page)
    assert [thread.id for thread in page.data] == [second, first]

    renamed = chatkit_client.update_thread(first, "Renamed")
    assert renamed.title == "Renamed"
    assert chatkit_client.get_thread(first).title == "Renamed"

    chatkit_client.delete_thread(first)
    assert [thread.id for thread in chatkit_client.list_threads().data] == [second]
    assert not models.ThreadItem.objects.filter(thread_id=first).exists()
    assert chatkit_client.request("threads.get_by_id", thread_id=first).status == 404


def test_items_list_and_feedback(chatkit_client, model):
    model.enqueue([assistant_message("rate me")])
    result = chatkit_client.create_thread("question")
    answer = result.assistant_messages[0]
    page = chatkit_client.list_items(result.thread_id)
    assert page.data[0].id == answer.id  # newest first by default

    chatkit_client.feedback(result.thread_id, [answer.id], "positive")
    row = models.ThreadItem.objects.get(item_id=answer.id)
    assert row.feedback == "positive" and row.feedback_at is not None
    chatkit_client.feedback(result.thread_id, [answer.id], "negative")
    row.refresh_from_db()
    assert row.feedback == "negative"


def test_feedback_on_an_unknown_item_is_404_and_changes_nothing(chatkit_client, model):
    model.enqueue([assistant_message("rate me")])
    result = chatkit_client.create_thread("question")
    answer = result.assistant_messages[0]
    response = chatkit_client.request(
        "items.feedback",
        thread_id=result.thread_id,
        item_ids=[answer.id, "msg_nope"],
        kind="positive",
    )
    assert response.status == 404
    assert models.ThreadItem.objects.get(item_id=answer.id).feedback is None


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("attachments.create", {"name": "a.png", "size": 10, "mime_type": "image/png"}),
        ("attachments.delete", {"attachment_id": "atc_123"}),
        (
            "input.transcribe",
            {"audio_base64": base64.b64encode(b"RIFF").decode(), "mime_type": "audio/webm"},
        ),
    ],
)
def test_unconfigured_ops_answer_a_clear_400(chatkit_client, settings, op, params):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENTS": False}
    response = chatkit_client.request(op, **params)
    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == "not_configured"
    assert "not configured" in error["message"]


def test_locked_thread_refuses_new_messages(chatkit_client, model):
    model.enqueue([assistant_message("ok")])
    thread_id = chatkit_client.create_thread("hello").thread_id
    models.Thread.objects.filter(id=thread_id).update(
        status={"type": "locked", "reason": "Under review"}
    )
    count = models.ThreadItem.objects.count()
    response = chatkit_client.request(
        "threads.add_user_message",
        thread_id=thread_id,
        input={
            "content": [{"type": "input_text", "text": "more"}],
            "attachments": [],
            "inference_options": {},
        },
    )
    assert response.status == 409
    assert response.json()["error"]["code"] == "thread_locked"
    assert "Under review" in response.json()["error"]["message"]
    assert models.ThreadItem.objects.count() == count


def test_get_is_405_json(client, chatkit_user):
    client.force_login(chatkit_user)
    response = client.get("/chatkit/api")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"


def test_anonymous_request_is_401_with_a_challenge(client):
    response = client.post(
        "/chatkit/api",
        data=b'{"type": "threads.list", "params": {}}',
        content_type="application/json",
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bearer_token_authenticates(client, chatkit_user, model):
    from rest_framework_simplejwt.tokens import AccessToken

    from chatkit_backend.testing import ChatKitClient

    token = AccessToken.for_user(chatkit_user)
    api = ChatKitClient(client, headers={"Authorization": f"Bearer {token}"})
    model.enqueue([assistant_message("hi token")])
    assert api.create_thread("hello").assistant_text == "hi token"


def test_session_without_csrf_token_is_403(chatkit_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(chatkit_user)
    response = client.post(
        "/chatkit/api",
        data=b'{"type": "threads.list", "params": {}}',
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_anonymous_visitors_own_their_session_threads_when_allowed(client, settings, model):
    from chatkit_backend.testing import ChatKitClient

    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ALLOW_ANONYMOUS": True}
    model.enqueue([assistant_message("hello visitor")])
    visitor = ChatKitClient(client)
    thread_id = visitor.create_thread("hi").thread_id
    assert [t.id for t in visitor.list_threads().data] == [thread_id]
    from django.test import Client

    stranger = ChatKitClient(Client())
    assert stranger.list_threads().data == []
    assert stranger.request("threads.get_by_id", thread_id=thread_id).status == 404


def test_accept_language_reaches_the_request_context(chatkit_user, client, settings):
    seen = {}

    def build(context):
        from agents import Agent
        from agents.testing import ScriptedModel

        seen["locale"] = context.locale
        return Agent(name="x", model=ScriptedModel([[assistant_message("ok")]]))

    from chatkit_backend.testing import ChatKitClient, override_agent

    client.force_login(chatkit_user)
    api = ChatKitClient(client, headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    with override_agent(build):
        api.create_thread("bonjour")
    assert seen["locale"] == "fr-CA"


@pytest.mark.parametrize(("asked", "served"), [(1000, 3), (None, 3), (0, 3), (-5, 1), (2, 2)])
def test_list_limits_are_clamped(chatkit_client, model, settings, asked, served):
    """``MAX_PAGE_SIZE`` caps every page; 0 or none means the default page, also capped."""
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "MAX_PAGE_SIZE": 3}
    model.extend([[assistant_message(str(n))] for n in range(3)])
    first = chatkit_client.create_thread("one").thread_id
    chatkit_client.send(first, "two")  # 4 items
    chatkit_client.create_thread("three")  # 2 threads
    items = chatkit_client.request("items.list", thread_id=first, limit=asked).json()
    assert len(items["data"]) == min(served, 4)
    threads = chatkit_client.request("threads.list", limit=asked).json()
    assert len(threads["data"]) == min(served, 2)


# -- the README's protocol reference ----------------------------------------------------------


def reference_section() -> str:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start = text.index("\n## Protocol reference\n")
    return text[start : text.index("\n## ", start + 1)]


def test_every_reference_body_is_a_valid_request_and_every_op_has_one():
    rows = re.findall(r"^\| `([a-z_.]+)` \| .*? \| `(\{.*?\})`", reference_section(), re.M)
    adapter = TypeAdapter(ChatKitReq)
    ops = [adapter.validate_json(body).type for _, body in rows]
    assert ops == [op for op, _ in rows]
    every_op = {
        cls.model_fields["type"].default
        for cls in typing.get_args(typing.get_args(ChatKitReq)[0])
        for cls in (typing.get_args(cls) or (cls,))
        if isinstance(cls, type)
    }
    assert sorted(ops) == sorted(every_op)


def test_a_turn_streams_in_the_documented_order(chatkit_client, model):
    """thread.updated with the title comes before the text, as the README says."""
    model.enqueue([assistant_message("One two three four.")])
    result = chatkit_client.create_thread("Hello there")
    kinds = []
    for event in result.events:
        kind = event.type
        if isinstance(event, ThreadItemUpdatedEvent):
            kind = event.update.type
        elif isinstance(event, ThreadItemAddedEvent | ThreadItemDoneEvent):
            kind += f" {event.item.type}"
        if not (kinds and kind == kinds[-1] == "assistant_message.content_part.text_delta"):
            kinds.append(kind)
    assert kinds == [
        "thread.created",
        "thread.item.done user_message",
        "stream_options",
        "thread.item.added assistant_message",
        "thread.updated",
        "assistant_message.content_part.added",
        "assistant_message.content_part.text_delta",
        "assistant_message.content_part.done",
        "thread.item.done assistant_message",
    ]
    [created] = [e for e in result.events if isinstance(e, ThreadCreatedEvent)]
    [updated] = [e for e in result.events if isinstance(e, ThreadUpdatedEvent)]
    assert (created.thread.title, updated.thread.title) == (None, "Hello there")
