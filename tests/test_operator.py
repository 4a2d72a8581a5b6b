"""Server-initiated messages and the operator: a person answers from the admin, the agent can be
paused, server code can append a message or run a turn without a client; each reaches the
owner's open page over the live socket."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from chatkit.types import AssistantMessageItem, NoticeEvent, UserMessageItem
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone

from chatkit_backend import models
from chatkit_backend.live.progress import PAUSED_KEY, PAUSED_NOTICE
from chatkit_backend.testing import AsyncChatKitClient
from chatkit_backend.threads import run_turn
from tests.support.sockets import connect, notices, ready, receive, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _empty_layer():
    await get_channel_layer().flush()
    yield
    await get_channel_layer().flush()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("sam", password="pw", is_staff=True)


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user(
        "olga", password="pw", is_staff=True, first_name="Olga", last_name="Ops"
    )
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["reply_thread", "view_thread"])
    )
    return user


async def chatkit_as(user) -> AsyncChatKitClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return AsyncChatKitClient(client)


async def admin_as(user) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


def operator_url(thread_id: str) -> str:
    return reverse("admin:chatkit_backend_thread_operator", args=[quote(thread_id)])


async def alice_thread(alice) -> tuple[AsyncChatKitClient, str]:
    api = await chatkit_as(alice)
    turn = await api.create_thread("Hello")
    return api, turn.thread_id


def logged_in_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return session_cookie(client)


async def test_staff_without_the_permission_get_403(alice, staff):
    _, thread_id = await alice_thread(alice)
    admin = await admin_as(staff)
    assert (await admin.get(operator_url(thread_id))).status_code == 403
    response = await admin.post(operator_url(thread_id), {"action": "reply", "text": "Hi"})
    assert response.status_code == 403
    response = await admin.post(operator_url(thread_id), {"action": "pause"})
    assert response.status_code == 403
    assert await models.ThreadItem.objects.filter(thread_id=thread_id).acount() == 2
    thread = await models.Thread.objects.aget(id=thread_id)
    assert PAUSED_KEY not in thread.metadata


async def test_an_operator_reply_is_a_person_s_message_on_the_open_page(alice, operator):
    api, thread_id = await alice_thread(alice)
    socket = await connect(cookie=await sync_to_async(logged_in_cookie)(alice))
    await ready(socket)

    admin = await admin_as(operator)
    page = await admin.get(operator_url(thread_id))
    assert page.status_code == 200 and b"Pause the agent" in page.content
    response = await admin.post(
        operator_url(thread_id), {"action": "reply", "text": "Hi, Olga here. Let me help."}
    )
    assert response.status_code == 302

    assert await notices(socket) == [
        {"type": "thread.changed", "thread_id": thread_id, "reason": "items"}
    ]
    items = (await api.list_items(thread_id, order="asc")).data
    assert isinstance(items[-1], AssistantMessageItem)
    assert items[-1].content[0].text == "Hi, Olga here. Let me help."
    # Marked as a person's message where staff read the thread.
    # Admin URLs carry quoted keys: unquoted, an id starting "thr_23" reads as "thr#...".
    change = await admin.get(
        reverse("admin:chatkit_backend_thread_change", args=[quote(thread_id)])
    )
    assert b"Operator (Olga Ops)" in change.content
    await socket.disconnect()


def test_staff_reach_a_thread_s_pages_whatever_its_id(alice, operator):
    # One id in 43 starts "thr_22".."thr_26" or "thr_40": the admin reads "_23" in a URL as a
    # quoted "#". Every link the pages render must quote the key, every view unquote it.
    thread_id = "thr_23" + "0" * 22
    now = timezone.now()
    models.Thread.objects.create(id=thread_id, owner=alice, created_at=now, updated_at=now)
    admin = Client()
    admin.force_login(operator)

    change = admin.get(reverse("admin:chatkit_backend_thread_change", args=[quote(thread_id)]))
    assert change.status_code == 200
    [operator_href] = re.findall(r'href="([^"]*/operator/)"', change.content.decode())
    page = admin.get(operator_href)
    assert page.status_code == 200 and b"Pause the agent" in page.content
    [back] = re.findall(rf'href="([^"]*{quote(thread_id)}/change/)"', page.content.decode())
    assert admin.get(back).status_code == 200
    reply = admin.post(operator_href, {"action": "reply", "text": "Hello from a person"})
    assert reply.status_code == 302 and admin.get(reply.url).status_code == 200
    assert models.ThreadItem.objects.filter(thread_id=thread_id).count() == 1


async def test_a_paused_thread_keeps_the_user_s_message_and_waits_for_a_person(alice, operator):
    api, thread_id = await alice_thread(alice)
    admin = await admin_as(operator)
    assert (await admin.post(operator_url(thread_id), {"action": "pause"})).status_code == 302
    page = await admin.get(operator_url(thread_id))
    assert b"The agent is paused" in page.content

    turn = await api.send(thread_id, "Is anyone there?")
    assert [e.message for e in turn.events if isinstance(e, NoticeEvent)] == [PAUSED_NOTICE]
    assert not turn.assistant_messages
    items = (await api.list_items(thread_id, order="asc")).data
    assert isinstance(items[-1], UserMessageItem)  # stored, and shown to staff
    assert b"Is anyone there?" in (await admin.get(operator_url(thread_id))).content
    # Nothing was spent on a model.
    usage_rows = await models.TurnUsage.objects.filter(thread_id=thread_id).acount()
    assert usage_rows == 1  # the first turn's only

    assert (await admin.post(operator_url(thread_id), {"action": "resume"})).status_code == 302
    turn = await api.send(thread_id, "Still there?")
    assert turn.assistant_messages and not any(isinstance(e, NoticeEvent) for e in turn.events)


async def test_a_bad_operator_post_changes_nothing(alice, operator):
    _, thread_id = await alice_thread(alice)
    admin = await admin_as(operator)
    assert (await admin.post(operator_url(thread_id), {"action": "explode"})).status_code == 400
    await admin.post(operator_url(thread_id), {"action": "reply", "text": "   "})
    assert await models.ThreadItem.objects.filter(thread_id=thread_id).acount() == 2
    assert (await admin.get(operator_url("thr_nobody"))).status_code == 404


async def test_server_code_runs_a_turn_without_a_client(alice):
    api, thread_id = await alice_thread(alice)
    socket = await connect(cookie=await sync_to_async(logged_in_cookie)(alice))
    await ready(socket)

    events = await run_turn(thread_id, instructions="Ask whether the answer helped.")
    assert any(isinstance(getattr(e, "item", None), AssistantMessageItem) for e in events)
    heard = await notices(socket)
    assert heard and all(n["thread_id"] == thread_id and n["reason"] == "items" for n in heard)
    items = (await api.list_items(thread_id, order="asc")).data
    assert [type(i).__name__ for i in items] == [
        "UserMessageItem",
        "AssistantMessageItem",
        "AssistantMessageItem",
    ]  # the hidden instructions are stored, never shown
    assert await models.TurnUsage.objects.filter(thread_id=thread_id).acount() == 2
    await socket.disconnect()


async def test_an_operator_page_watches_a_thread_it_does_not_own(alice, operator, staff):
    api, thread_id = await alice_thread(alice)
    watcher = await connect(cookie=await sync_to_async(logged_in_cookie)(operator))
    await ready(watcher)
    await watcher.send_json_to({"type": "watch", "thread_id": thread_id})
    assert await receive(watcher) == {"type": "watching", "thread_id": thread_id}
    # Staff without the permission, and an unknown thread: ignored.
    bystander = await connect(cookie=await sync_to_async(logged_in_cookie)(staff))
    await ready(bystander)
    await bystander.send_json_to({"type": "watch", "thread_id": thread_id})
    await watcher.send_json_to({"type": "watch", "thread_id": "thr_nobody"})

    await api.send(thread_id, "Anyone?")
    heard = await notices(watcher)
    assert heard and {n["thread_id"] for n in heard} == {thread_id}
    assert await bystander.receive_nothing(timeout=0.3)
    for socket in (watcher, bystander):
        await socket.disconnect()


async def test_the_testing_helpers_open_a_socket_and_read_a_notice(alice):
    """chatkit_backend.testing's live_socket / next_notice, as the README shows them."""
    from rest_framework_simplejwt.tokens import AccessToken

    from chatkit_backend.testing import live_socket, next_notice
    from chatkit_backend.threads import append_assistant_message

    _, thread_id = await alice_thread(alice)
    by_session = await live_socket(alice)
    by_token = await live_socket(token=str(AccessToken.for_user(alice)))
    await append_assistant_message(thread_id, "Done.")
    expected = {"type": "thread.changed", "thread_id": thread_id, "reason": "items"}
    assert await next_notice(by_session) == expected
    assert await next_notice(by_token) == expected
    for socket in (by_session, by_token):
        await socket.disconnect()
