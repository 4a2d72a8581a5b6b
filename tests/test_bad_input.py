"""Malformed requests: a 400 JSON error that says what is wrong, and nothing changes."""

import json

import pytest
from agents.testing import assistant_message

from chatkit_backend import models
from tests.support.db import snapshot

pytestmark = pytest.mark.django_db(transaction=True)


BAD_BODIES = [
    b"",
    b"not json",
    b"{",
    b"[]",
    b"null",
    b'{"type": "threads.explode", "params": {}}',
    b'{"params": {}}',
    b'{"type": "threads.create"}',
    b'{"type": "threads.create", "params": {}}',
    b'{"type": "threads.create", "params": {"input": {"content": "text"}}}',
    b'{"type": "threads.get_by_id", "params": {"thread_id": 42}}',
    b'{"type": "threads.list", "params": {"limit": "many"}}',
    b'{"type": "threads.list", "params": {"order": "sideways"}}',
    b'{"type": "items.feedback", "params": {"thread_id": "t", "item_ids": [], "kind": "meh"}}',
    b'{"type": "threads.update", "params": {"thread_id": "t"}}',
    '{"type": "threads.create", "params": {"input": "\xff"}}'.encode("latin-1"),
    # Nesting deeper than Python's recursion limit (with fewer containers than
    # MAX_JSON_VALUES, so that the decoder meets the depth).
    b"[" * 5_000,
    b'{"a":' * 5_000,
    # Text the database cannot store (PostgreSQL refuses NUL; a lone surrogate is not UTF-8):
    # refused before anything is written, not half-way through a turn.
    *[
        json.dumps(
            {
                "type": "threads.create",
                "params": {
                    "input": {
                        "content": [{"type": "input_text", "text": text}],
                        "attachments": [],
                        "inference_options": {},
                    }
                },
            }
        ).encode()
        for text in ("a\u0000b", "\ud800", "x\udfff")
    ],
    b'{"type": "threads.list", "params": {}, "metadata": {"k\\u0000": 1}}',
    # Not JSON, though Python's decoder takes them; no database stores them as JSON.
    b'{"type": "threads.list", "params": {}, "metadata": {"x": NaN}}',
    b'{"type": "threads.create", "params": {"input": {"content": [{"type": "input_tag", '
    b'"id": "t", "text": "t", "data": {"x": -Infinity}}], "attachments": [], '
    b'"inference_options": {}}}}',
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_malformed_bodies_are_400_json_and_change_nothing(chatkit_client, model, body):
    model.enqueue([assistant_message("existing")])
    chatkit_client.create_thread("existing thread")
    before = snapshot()
    response = chatkit_client.post(body)
    assert response.status == 400, response.content
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"]
    assert snapshot() == before


@pytest.mark.parametrize("body", [b"[" * 200_000, b"[]," * 80_000, b'{"a":' * 40_000])
def test_bodies_of_too_many_objects_and_arrays_are_400(chatkit_client, body):
    before = snapshot()
    response = chatkit_client.post(body)
    assert response.status == 400, response.content
    assert response.json()["error"]["code"] == "too_many_values"
    assert snapshot() == before


def test_validation_details_say_where_without_echoing_input(chatkit_client):
    response = chatkit_client.post(
        json.dumps({"type": "threads.get_by_id", "params": {"thread_id": ["x" * 5000]}})
    )
    details = response.json()["error"]["details"]
    assert details and details[0]["loc"][:2] == ["threads.get_by_id", "params"]
    assert "x" * 100 not in response.content.decode()


def test_oversized_body_is_413(chatkit_client, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "MAX_REQUEST_BYTES": 1000}
    body = json.dumps({"type": "threads.list", "params": {}, "metadata": {"pad": "x" * 2000}})
    response = chatkit_client.post(body)
    assert response.status == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_title_the_database_cannot_store_is_400(chatkit_client, model):
    model.enqueue([assistant_message("hi")])
    thread_id = chatkit_client.create_thread("hello").thread_id
    before = snapshot()
    response = chatkit_client.request("threads.update", thread_id=thread_id, title="a\u0000b")
    assert response.status == 400, response.content
    assert response.json()["error"]["code"] == "invalid_request"
    assert snapshot() == before


def test_text_outside_the_basic_plane_still_works(chatkit_client, model):
    # A surrogate *pair* in JSON is one character (an emoji), not bad input.
    model.enqueue([assistant_message("nice")])
    result = chatkit_client.post(
        b'{"type": "threads.create", "params": {"input": {"content": [{"type": "input_text", '
        b'"text": "hi \\ud83d\\ude00"}], "attachments": [], "inference_options": {}}}}'
    )
    assert result.status == 200
    assert (
        models.ThreadItem.objects.filter(type="user_message").get().data["content"][0]["text"]
        == "hi \U0001f600"
    )


def test_deep_nesting_without_credentials_is_401_not_500(client):
    response = client.post("/chatkit/api", b"[" * 200_000, content_type="application/json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"


def test_a_chunked_body_past_the_limit_is_413(live_asgi, chatkit_user, settings):
    # No Content-Length to check up front: the size is known only once the body is read.
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "MAX_REQUEST_BYTES": 1000}
    body = json.dumps({"type": "threads.list", "params": {}, "metadata": {"pad": "x" * 5000}})

    def chunks():
        for start in range(0, len(body), 512):
            yield body[start : start + 512].encode()

    with live_asgi.http(chatkit_user) as http:
        response = http.post(
            "/chatkit/api", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "request_too_large"
