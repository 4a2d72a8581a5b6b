"""Streaming and concurrency against a real ASGI server (``live_asgi``: uvicorn in a thread).

Django's test client cannot show either: it drains a streaming response before the test sees
it, and it runs one request at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from agents.testing import ModelCall, ModelStep, ScriptedModel, assistant_message
from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    ThreadItemUpdatedEvent,
)

from chatkit_backend import models
from chatkit_backend.testing import ChatKitClient, LiveServer, message_input
from chatkit_backend.testing.wire import EVENT_ADAPTER
from tests.support.slow_stream import SlowTextStream

pytestmark = pytest.mark.django_db(transaction=True)

API = "/chatkit/api"


def create_body(text: str) -> dict:
    return {"type": "threads.create", "params": {"input": message_input(text)}}


def test_the_readme_example_streams_over_http(live_asgi, chatkit_user, scripted_model):
    # The README's example of the shipped live_asgi fixture, as written there.
    scripted_model.enqueue([assistant_message("Your order has shipped.")])
    result = live_asgi.chatkit(chatkit_user).create_thread("Where is order 42?")
    assert result.response.is_stream  # text/event-stream, read from a socket
    assert result.assistant_text == "Your order has shipped."


def test_first_frame_arrives_before_the_stream_ends(live_asgi: LiveServer, chatkit_user, model):
    stream = SlowTextStream.words(16, delay=0.05)  # about 0.75 s of model output
    model.enqueue(ModelStep.stream(stream))
    http = live_asgi.http(chatkit_user)

    started = time.monotonic()
    frames: list[tuple[float, bytes]] = []
    produced_at_first_delta = None
    with http.stream("POST", API, json=create_body("Tell me slowly")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        for line in response.iter_lines():
            if not line:
                continue
            assert line.startswith("data: "), line
            event = EVENT_ADAPTER.validate_json(line[len("data: ") :])
            frames.append((time.monotonic(), line.encode()))
            if produced_at_first_delta is None and isinstance(event, ThreadItemUpdatedEvent):
                if isinstance(event.update, AssistantMessageContentPartTextDelta):
                    produced_at_first_delta = stream.produced
    ended = time.monotonic()

    assert stream.completed
    first_frame = frames[0][0]
    first_delta = next(at for at, raw in frames if b"content_part.text_delta" in raw)
    # The first frames reach the client while the model is still talking, not in one lump at
    # the end (as they would under WSGI or behind a buffering proxy).
    assert ended - first_frame > 0.3, (first_frame - started, ended - started)
    assert ended - first_delta > 0.3, (first_delta - started, ended - started)
    assert produced_at_first_delta is not None
    assert produced_at_first_delta < len(stream.deltas) // 2

    # The whole answer arrived and was stored.
    events = [EVENT_ADAPTER.validate_json(raw[len(b"data: ") :]) for _, raw in frames]
    done = [
        e for e in events if e.type == "thread.item.done" and e.item.type == "assistant_message"
    ]
    assert len(done) == 1
    assert done[0].item.content[0].text == stream.full_text
    stored = models.ThreadItem.objects.get(item_id=done[0].item.id)
    assert stored.data["content"][0]["text"] == stream.full_text


def test_json_ops_are_not_streamed(live_asgi: LiveServer, chatkit_user):
    response = live_asgi.http(chatkit_user).post(
        API, json={"type": "threads.list", "params": {"limit": 5}}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


def test_unauthenticated_stream_is_refused_before_streaming(live_asgi: LiveServer):
    response = live_asgi.http().post(API, json=create_body("Hi"))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"


TOKEN = re.compile(r"tok-u\d+-t\d+-m\d+")


async def echo_last_token(call: ModelCall) -> list:
    """Answer with the newest token in the history, after a pause so turns overlap."""
    await asyncio.sleep(0.05)
    tokens = TOKEN.findall(json.dumps(call.input))
    return [assistant_message(f"echo {tokens[-1]}")]


USERS = 10
THREADS_PER_USER = 2


def test_concurrent_turns_from_many_users(
    live_asgi: LiveServer, django_user_model, model: ScriptedModel, caplog
):
    caplog.set_level(logging.WARNING)
    # Two turns (threads.create, then threads.add_user_message) in each of 20 threads.
    model.extend([ModelStep.respond(echo_last_token)] * (USERS * THREADS_PER_USER * 2))
    users = [
        django_user_model.objects.create_user(username=f"live-{index}", password="pw")
        for index in range(USERS)
    ]
    clients = {user.pk: live_asgi.chatkit(user) for user in users}
    jobs = [(u, t) for u in range(USERS) for t in range(THREADS_PER_USER)]

    def conversation(job: tuple[int, int]) -> tuple[int, str]:
        u, t = job
        # One client per job: httpx clients are thread-safe, but this keeps connections apart.
        client = ChatKitClient(live_asgi.http(users[u]))
        first = client.create_thread(f"Hello from tok-u{u}-t{t}-m1")
        assert first.errors == [], first.errors
        assert first.assistant_text == f"echo tok-u{u}-t{t}-m1"
        second = client.send(first.thread_id, f"Again tok-u{u}-t{t}-m2")
        assert second.errors == [], second.errors
        assert second.assistant_text == f"echo tok-u{u}-t{t}-m2"
        return u, first.thread_id

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(conversation, jobs))

    assert "database is locked" not in caplog.text
    assert model.remaining_steps == 0
    threads_of: dict[int, set[str]] = {u: set() for u in range(USERS)}
    for u, thread_id in results:
        threads_of[u].add(thread_id)
    for u, user in enumerate(users):
        page = clients[user.pk].list_threads(limit=50)
        assert {thread.id for thread in page.data} == threads_of[u]
        assert len(page.data) == THREADS_PER_USER
        for thread in page.data:
            assert thread.title and f"tok-u{u}-" in thread.title
            types = list(
                models.ThreadItem.objects.filter(thread_id=thread.id)
                .order_by("created_at", "seq")
                .values_list("type", flat=True)
            )
            assert types == ["user_message", "assistant_message"] * 2


TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def timestamps(value, found=None) -> list[str]:
    """Every ``created_at`` in a decoded JSON document."""
    found = [] if found is None else found
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "created_at":
                found.append(inner)
            else:
                timestamps(inner, found)
    elif isinstance(value, list):
        for inner in value:
            timestamps(inner, found)
    return found


@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Kolkata"])
def test_every_timestamp_on_the_wire_is_utc_with_z(
    live_asgi: LiveServer, chatkit_user, model, settings, time_zone
):
    """thread.created, item events, threads.list, items.list and threads.get_by_id agree on
    one form (ISO 8601 in UTC with ``Z``) and on the instants themselves."""
    settings.TIME_ZONE = time_zone
    model.enqueue([assistant_message("Hello there.")])
    http = live_asgi.http(chatkit_user)
    with http.stream("POST", API, json=create_body("Hi")) as response:
        events = [json.loads(line[len("data: ") :]) for line in response.iter_lines() if line]
    created = next(e for e in events if e["type"] == "thread.created")["thread"]
    thread_id = created["id"]
    streamed = timestamps(events)
    listed = http.post(API, json={"type": "threads.list", "params": {}}).json()
    items = http.post(API, json={"type": "items.list", "params": {"thread_id": thread_id}}).json()
    whole = http.post(
        API, json={"type": "threads.get_by_id", "params": {"thread_id": thread_id}}
    ).json()
    every = streamed + timestamps(listed) + timestamps(items) + timestamps(whole)
    assert len(every) >= 8
    assert [value for value in every if not TIMESTAMP.match(value)] == []

    [listed_thread] = listed["data"]
    assert listed_thread["created_at"] == created["created_at"] == whole["created_at"]
    done = {
        e["item"]["id"]: e["item"]["created_at"] for e in events if e["type"] == "thread.item.done"
    }
    assert {item["id"]: item["created_at"] for item in items["data"]} == done
    # The instants are now, not shifted by the server's time zone.
    now = time.time()
    for value in every:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        assert abs(instant - now) < 600
