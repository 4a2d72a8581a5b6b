"""Malformed requests: a 400 JSON error that says what is wrong, and nothing changes."""

import json

import pytest
from agents.testing import assistant_message

from chatkit_backend import models

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot():
    return (
        list(models.Thread.objects.order_by("id").values()),
        list(models.ThreadItem.objects.order_by("seq").values()),
    )


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
