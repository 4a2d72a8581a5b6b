"""Threads in Django admin: list, search, a readable transcript, read-only items."""

import re

import pytest
from agents.testing import assistant_message
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils import timezone

from chatkit_backend import models

pytestmark = pytest.mark.django_db(transaction=True)


def thread_page(thread_id: str) -> str:
    """The thread's admin page, with its id quoted the way admin's own links quote it."""
    return reverse("admin:chatkit_backend_thread_change", args=[quote(thread_id)])


@pytest.fixture
def admin_client_with_threads(client, admin_user, chatkit_client, model):
    model.extend([[assistant_message("Paris is the capital.")], [assistant_message("Yes.")]])
    first = chatkit_client.create_thread("What is the capital of France?")
    chatkit_client.send(first.thread_id, "Are you sure?")
    model.enqueue([assistant_message("Hello!")])
    chatkit_client.create_thread("Just saying hi")
    models.ThreadItem.objects.filter(item_id=first.assistant_messages[0].id).update(
        feedback="positive"
    )
    client.force_login(admin_user)
    return client, first.thread_id


def test_changelist_shows_title_owner_item_count(admin_client_with_threads):
    client, _ = admin_client_with_threads
    response = client.get("/admin/chatkit_backend/thread/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "What is the capital of France?" in html
    assert "chatkit-user" in html
    rows = response.context["cl"].result_list
    counts = {row.title: row.item_count for row in rows}
    assert counts == {"What is the capital of France?": 4, "Just saying hi": 2}


@pytest.mark.parametrize(("query", "expected"), [("capital", 1), ("chatkit-user", 2)])
def test_search_by_title_and_owner(admin_client_with_threads, query, expected):
    client, _ = admin_client_with_threads
    response = client.get("/admin/chatkit_backend/thread/", {"q": query})
    assert len(response.context["cl"].result_list) == expected


def test_thread_page_shows_a_readable_transcript(admin_client_with_threads):
    client, thread_id = admin_client_with_threads
    response = client.get(thread_page(thread_id))
    assert response.status_code == 200
    html = response.content.decode()
    order = [
        html.index("What is the capital of France?", html.index("chatkit-transcript")),
        html.index("Paris is the capital."),
        html.index("Are you sure?"),
        html.index("Yes."),
    ]
    assert order == sorted(order)
    assert "feedback: positive" in html


def test_a_thread_whose_id_looks_like_an_admin_escape_opens_from_its_link(
    admin_client_with_threads, chatkit_user
):
    # Admin unquotes "_40" in a URL to "@"; about 1 id in 40 starts its hex that way.
    client, _ = admin_client_with_threads
    now = timezone.now()
    models.Thread.objects.create(
        id="thr_406d4fde9f876786e78aba30",
        owner=chatkit_user,
        title="Escape-looking id",
        created_at=now,
        updated_at=now,
    )
    changelist = client.get("/admin/chatkit_backend/thread/").content.decode()
    link = re.search(r'href="([^"]*thr_5F406d4fde9f876786e78aba30[^"]*)"', changelist)
    assert link, "the changelist links to the thread"
    page = client.get(link.group(1))
    assert page.status_code == 200
    assert "Escape-looking id" in page.content.decode()


def test_items_are_read_only(admin_client_with_threads):
    client, thread_id = admin_client_with_threads
    item = models.ThreadItem.objects.filter(thread_id=thread_id).first()
    assert client.get("/admin/chatkit_backend/threaditem/add/").status_code == 403
    response = client.post(
        f"/admin/chatkit_backend/threaditem/{item.pk}/change/", {"type": "tampered"}
    )
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.type != "tampered"


def test_admin_never_shows_the_api_key(admin_client_with_threads, settings):
    client, thread_id = admin_client_with_threads
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "OPENAI_API_KEY": "sk-test-ADMINLEAK"}
    for url in [
        "/admin/",
        "/admin/chatkit_backend/thread/",
        thread_page(thread_id),
        "/admin/chatkit_backend/turnusage/",
    ]:
        assert b"ADMINLEAK" not in client.get(url).content


def test_closing_a_thread_in_the_admin_writes_only_what_changed(admin_client_with_threads):
    from django.db.models.signals import pre_save

    client, thread_id = admin_client_with_threads
    # A turn is running in the thread, and ends (releasing its claim on the thread) while the
    # operator's save is under way: after the admin read the row, before it writes.
    until = timezone.now() + timezone.timedelta(seconds=30)
    models.Thread.objects.filter(id=thread_id).update(turn_lease="running", turn_lease_until=until)

    def turn_ends(sender, instance, **kwargs):
        models.Thread.objects.filter(id=instance.pk).update(turn_lease="", turn_lease_until=None)

    pre_save.connect(turn_ends, sender=models.Thread)
    try:
        thread = models.Thread.objects.get(id=thread_id)
        response = client.post(
            thread_page(thread_id),
            {
                "title": thread.title,
                "state": "closed",
                "reason": "Resolved",
                "metadata": "{}",
            },
        )
    finally:
        pre_save.disconnect(turn_ends, sender=models.Thread)
    assert response.status_code == 302, response.content.decode()[:2000]
    thread.refresh_from_db()
    assert thread.status == {"type": "closed", "reason": "Resolved"}
    # The ended turn's claim is not written back: the thread is free for the next turn.
    assert (thread.turn_lease, thread.turn_lease_until) == ("", None)
