"""The live socket ``chatkit/ws``: who may open it, and what it tells them.

Driven with channels' ``WebsocketCommunicator`` on the app's own routes, in the event loop of
the test, with the real database and the in-memory channel layer; changes are made through
the protocol endpoint (Django's ``AsyncClient``), server code and the ORM, as users make them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from chatkit.types import LockedStatus
from django.test import AsyncClient, Client
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from chatkit_backend import models
from chatkit_backend.store import DjangoStore
from chatkit_backend.testing import AsyncChatKitClient
from chatkit_backend.threads import append_assistant_message, owner_context
from tests.support.sockets import (
    closed_with,
    connect,
    notices,
    ready,
    receive,
    session_cookie,
    unsigned_token,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _empty_layer():
    layer = get_channel_layer()
    await layer.flush()
    yield
    await layer.flush()


@pytest.fixture
def fast_auth(settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "LIVE_AUTH_TIMEOUT": 0.3}


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="pw")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def chatkit_as(user) -> AsyncChatKitClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return AsyncChatKitClient(client)


# -- authentication ------------------------------------------------------------------------------


async def test_the_session_cookie_authenticates(alice):
    cookie = session_cookie(await sync_to_async(logged_in)(alice))
    socket = await connect(cookie=cookie)
    await ready(socket)
    await socket.disconnect()


async def test_a_token_in_the_first_frame_authenticates(alice):
    socket = await connect()
    await socket.send_json_to({"type": "auth", "token": str(AccessToken.for_user(alice))})
    await ready(socket)
    await socket.disconnect()


def expired(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    return str(token)


def forged(user) -> str:
    header, payload, signature = str(AccessToken.for_user(user)).split(".")
    return f"{header}.{payload}.{signature[:-4]}AAAA"


@pytest.mark.parametrize("make", [expired, forged, lambda user: unsigned_token(user.pk)])
async def test_a_bad_token_closes_with_4401(alice, make):
    socket = await connect()
    await socket.send_json_to({"type": "auth", "token": await sync_to_async(make)(alice)})
    assert await closed_with(socket) == 4401


async def test_no_credentials_in_time_closes_with_4401(fast_auth):
    socket = await connect()
    assert await closed_with(socket, wait=2) == 4401


async def test_a_token_socket_closes_when_the_token_expires(alice):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=timedelta(seconds=1))
    socket = await connect()
    await socket.send_json_to({"type": "auth", "token": str(token)})
    await ready(socket)
    assert await closed_with(socket, wait=4) == 4401


async def test_a_foreign_origin_closes_with_4403(alice, settings):
    cookie = session_cookie(await sync_to_async(logged_in)(alice))
    settings.ALLOWED_HOSTS = ["testserver"]
    socket = await connect(cookie=cookie, origin="https://evil.example")
    assert await closed_with(socket) == 4403
    # The site's own origin still works.
    socket = await connect(cookie=cookie, origin="http://testserver")
    await ready(socket)
    await socket.disconnect()


async def test_allowed_origins_decide_when_set(alice, settings):
    cookie = session_cookie(await sync_to_async(logged_in)(alice))
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "ALLOWED_ORIGINS": ["https://app.example"],
    }
    socket = await connect(cookie=cookie, origin="http://testserver")
    assert await closed_with(socket) == 4403
    socket = await connect(cookie=cookie, origin="https://app.example")
    await ready(socket)
    await socket.disconnect()


async def test_a_cors_origin_needs_a_token_not_a_cookie(alice, settings, fast_auth):
    # tests.settings: CORS_ALLOWED_ORIGINS = ["https://frontend.example"]
    settings.ALLOWED_HOSTS = ["testserver"]
    cookie = session_cookie(await sync_to_async(logged_in)(alice))
    socket = await connect(cookie=cookie, origin="https://frontend.example")
    assert await closed_with(socket, wait=2) == 4401  # the cookie did not count
    socket = await connect(origin="https://frontend.example")
    await socket.send_json_to({"type": "auth", "token": str(AccessToken.for_user(alice))})
    await ready(socket)
    await socket.disconnect()


def anonymous_session() -> tuple[str, str]:
    """A visitor's session cookie, and the thread they own (made through the API)."""
    session = Client().session
    session.save()
    thread = models.Thread.objects.create(
        id="thr_anonymous0001",
        session_key=session.session_key,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    return f"sessionid={session.session_key}", thread.id


async def test_anonymous_visitors_need_the_setting(settings, fast_auth):
    cookie, _ = await sync_to_async(anonymous_session)()
    socket = await connect(cookie=cookie)
    assert await closed_with(socket, wait=2) == 4401


async def test_anonymous_visitors_hear_of_their_own_session_threads(settings, fast_auth):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ALLOW_ANONYMOUS": True}
    cookie, thread_id = await sync_to_async(anonymous_session)()
    visitor = await connect(cookie=cookie)
    await ready(visitor)
    stranger = await connect(cookie="sessionid=not-a-session-of-ours")
    assert await closed_with(stranger, wait=3) == 4401
    await append_assistant_message(thread_id, "Hello, visitor.")
    assert await notices(visitor) == [
        {"type": "thread.changed", "thread_id": thread_id, "reason": "items"}
    ]
    await visitor.disconnect()


# -- frames --------------------------------------------------------------------------------------


async def test_other_frames_are_ignored_and_ping_answered(alice):
    cookie = session_cookie(await sync_to_async(logged_in)(alice))
    socket = await connect(cookie=cookie)
    await ready(socket)
    await socket.send_to(text_data="not json")
    await socket.send_to(text_data="[1, 2]")
    await socket.send_json_to({"type": "subscribe", "thread_id": "thr_someone_elses"})
    await socket.send_to(bytes_data=b"\x00\x01")
    assert await socket.receive_nothing(timeout=0.3)
    await socket.send_json_to({"type": "ping"})
    assert await receive(socket) == {"type": "pong"}
    await socket.disconnect()


async def test_a_flood_of_frames_closes_the_socket(alice):
    cookie = session_cookie(await sync_to_async(logged_in)(alice))
    socket = await connect(cookie=cookie)
    await ready(socket)
    for _ in range(50):
        await socket.send_json_to({"type": "stop", "thread_id": "thr_nothing"})
    assert await closed_with(socket) == 4429


async def test_an_oversized_frame_closes_the_socket(alice):
    cookie = session_cookie(await sync_to_async(logged_in)(alice))
    socket = await connect(cookie=cookie)
    await ready(socket)
    await socket.send_json_to({"type": "ping", "padding": "x" * 5000})
    assert await closed_with(socket) == 4413


# -- notices -------------------------------------------------------------------------------------


async def test_every_kind_of_change_reaches_the_owner_and_nobody_else(alice, bob):
    alice_socket = await connect(cookie=session_cookie(await sync_to_async(logged_in)(alice)))
    other_tab = await connect()
    await other_tab.send_json_to({"type": "auth", "token": str(AccessToken.for_user(alice))})
    bob_socket = await connect(cookie=session_cookie(await sync_to_async(logged_in)(bob)))
    for socket in (alice_socket, other_tab, bob_socket):
        await ready(socket)
    api = await chatkit_as(alice)

    # A turn from one tab: the other tab hears of the new thread and its items.
    turn = await api.create_thread("Hello there")
    thread_id = turn.thread_id
    heard = await notices(other_tab)
    assert heard and {n["reason"] for n in heard} <= {"items", "title"}
    assert {n["thread_id"] for n in heard} == {thread_id}
    await notices(alice_socket)

    await api.send(thread_id, "And again")
    assert {"type": "thread.changed", "thread_id": thread_id, "reason": "items"} in await notices(
        other_tab
    )
    await notices(alice_socket)

    # Server code appends a message.
    await append_assistant_message(thread_id, "A job finished.")
    expected = [{"type": "thread.changed", "thread_id": thread_id, "reason": "items"}]
    assert await notices(alice_socket) == expected
    assert await notices(other_tab) == expected

    # A rename through the protocol.
    response = await api.request("threads.update", thread_id=thread_id, title="Renamed")
    assert response.status == 200
    assert await notices(alice_socket) == [
        {"type": "thread.changed", "thread_id": thread_id, "reason": "title"}
    ]
    await notices(other_tab)

    # A lock by server code (load, change, save: the SDK's way).
    context = await sync_to_async(owner_context)(thread_id)
    store = DjangoStore()
    thread = await store.load_thread(thread_id, context)
    thread.status = LockedStatus(reason="Under review")
    await store.save_thread(thread, context)
    assert await notices(alice_socket) == [
        {"type": "thread.changed", "thread_id": thread_id, "reason": "status"}
    ]

    # A close in the admin (an ORM save of the status).
    def close_in_admin() -> None:
        row = models.Thread.objects.get(id=thread_id)
        row.status = {"type": "closed", "reason": "Done"}
        row.save(update_fields=["status"])

    await sync_to_async(close_in_admin)()
    assert await notices(alice_socket) == [
        {"type": "thread.changed", "thread_id": thread_id, "reason": "status"}
    ]

    # A delete.
    response = await api.request("threads.delete", thread_id=thread_id)
    assert response.status == 200
    assert await notices(alice_socket) == [
        {"type": "thread.changed", "thread_id": thread_id, "reason": "deleted"}
    ]

    # Bob heard nothing of any of it.
    assert await bob_socket.receive_nothing(timeout=0.3)
    for socket in (alice_socket, other_tab, bob_socket):
        await socket.disconnect()


async def test_a_closed_socket_leaves_the_group(alice):
    socket = await connect(cookie=session_cookie(await sync_to_async(logged_in)(alice)))
    await ready(socket)
    await socket.disconnect()
    layer = get_channel_layer()
    assert not any(layer.groups.values())
