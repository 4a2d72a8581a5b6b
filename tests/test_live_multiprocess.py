"""Live notices across worker processes: two uvicorn processes of the example site share the
database (PostgreSQL in CI) and the real Redis as the channel layer. A turn, or an operator's
reply, handled by process A reaches a socket held by process B, also after the socket sat idle
longer than redis-py 8's default read timeout (channels_redis#422)."""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.admin.utils import quote

from tests.support.example_site import ExampleSite, Server, site_with_users
from tests.support.fake_provider import FakeProvider
from tests.support.live_site import Listener, ws_url
from tests.support.turn_streams import (
    DISCONNECT,
    SLOW_ANSWER,
    after_deltas,
    create_params,
    stream_turn,
)
from tests.test_multiprocess_turns import query

REDIS = ("127.0.0.1", 6379)
PASSWORD = "correct-horse-battery"
# olga is staff and may answer as a person.
OPERATOR = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

olga = get_user_model().objects.get(username="olga")
olga.is_staff = True
olga.save()
olga.user_permissions.add(*Permission.objects.filter(codename__in=["reply_thread", "view_thread"]))
"""


def redis_running() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not redis_running(), reason="Redis is not running on 6379")


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    """Answers as real providers give them: a chunk every 100-200 ms, usage at the end."""
    with FakeProvider(event_delay=(0.1, 0.2), default_answer=SLOW_ANSWER) as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, provider: FakeProvider) -> Iterator[ExampleSite]:
    with site_with_users(
        tmp_path_factory.mktemp("live-multiprocess"),
        ("alice", "bob", "olga"),
        PASSWORD,
        DJANGO_SETTINGS_MODULE="tests.live_multiprocess_settings",
        REDIS_URL=f"redis://{REDIS[0]}:{REDIS[1]}/0",
        TEST_CHANNELS_PREFIX=f"chatkit-test-{secrets.token_hex(4)}",
        LLM_PROVIDER="openai_compatible",
        LLM_BASE_URL=provider.base_url,
        LLM_MODEL="slow-model",
    ) as site:
        site.manage("shell", "-c", OPERATOR)
        yield site


@pytest.fixture(scope="module")
def workers(site: ExampleSite) -> tuple[Server, Server]:
    return site.start("uvicorn", "worker-a"), site.start("uvicorn", "worker-b")


def token(server: Server, username: str) -> str:
    return server.token(username, PASSWORD)


def api(server: Server, username: str) -> httpx.Client:
    return server.bearer_client(username, PASSWORD)


def admin_session(server: Server, username: str) -> httpx.Client:
    """A browser-like admin session on ``server`` (login form, CSRF cookie)."""
    client = httpx.Client(base_url=server.base_url, timeout=30, trust_env=False)
    login = client.get("/admin/login/?next=/admin/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    response = client.post(
        "/admin/login/?next=/admin/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
    )
    assert response.status_code == 302, response.text[:500]
    return client


def operator_reply(client: httpx.Client, thread_id: str, text: str) -> None:
    url = f"/admin/chatkit_backend/thread/{quote(thread_id)}/operator/"  # admin URLs quote keys
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(url, data={"action": "reply", "text": text, "csrfmiddlewaretoken": csrf})
    assert response.status_code == 302, response.text[:500]


def test_changes_on_one_worker_reach_sockets_on_the_other(workers):
    a, b = workers
    alice_on_b = Listener(ws_url(b.base_url), token(b, "alice"))
    bob_on_b = Listener(ws_url(b.base_url), token(b, "bob"))
    try:
        turn = stream_turn(api(a, "alice"), "threads.create", **create_params("Hello from A"))
        assert turn.status == 200 and turn.thread_id
        notice = {"type": "thread.changed", "thread_id": turn.thread_id, "reason": "items"}
        alice_on_b.wait_for(notice)

        # Idle for longer than redis-py 8's 5 s read timeout (three times over): still there.
        time.sleep(16)
        seen = len(alice_on_b.frames)
        operator_reply(admin_session(a, "olga"), turn.thread_id, "Olga here, from worker A.")
        alice_on_b.wait_for(notice)
        deadline = time.monotonic() + 10
        while len(alice_on_b.frames) <= seen:
            assert time.monotonic() < deadline, "the operator's reply never reached B"
            time.sleep(0.05)
        assert alice_on_b.frames[seen] == notice

        time.sleep(0.5)
        assert bob_on_b.frames == []  # nothing about alice's thread, on any worker
    finally:
        alice_on_b.close()
        bob_on_b.close()


def test_a_stop_on_one_worker_stops_the_run_on_the_other(site, workers):
    a, b = workers
    turn = stream_turn(
        api(a, "alice"),
        "threads.create",
        on_event=after_deltas(1, lambda _turn: DISCONNECT),
        **create_params("Tell me a long story"),
    )
    assert turn.disconnected and turn.thread_id
    alice_on_b = Listener(ws_url(b.base_url), token(b, "alice"))
    try:
        alice_on_b.socket.send(json.dumps({"type": "stop", "thread_id": turn.thread_id}))
        deadline = time.monotonic() + 10
        sql = "SELECT type, data FROM chatkit_backend_threaditem WHERE thread_id = %s"
        while not any(kind == "sdk_hidden_context" for kind, _ in query(site, sql, turn.thread_id)):
            assert time.monotonic() < deadline, "the run on A never heard the stop sent to B"
            time.sleep(0.1)
        texts = [
            "".join(
                part["text"] for part in (json.loads(d) if isinstance(d, str) else d)["content"]
            )
            for kind, d in query(site, sql, turn.thread_id)
            if kind == "assistant_message"
        ]
        assert texts and texts[0] != SLOW_ANSWER  # cut off, the partial answer kept
    finally:
        alice_on_b.close()
