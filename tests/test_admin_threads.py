"""The thread list as an operations console: denormalised columns, filters, search, actions,
permissions, and what each action leaves in Django's admin log."""

import json
from datetime import timedelta

import pytest
from agents.testing import assistant_message
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chatkit_backend import models
from tests.support.files import PDF, stored_files, upload

pytestmark = pytest.mark.django_db(transaction=True)
LIST = "/admin/chatkit_backend/thread/"


def page_of(thread_id: str, suffix: str = "change/") -> str:
    return f"{LIST}{quote(thread_id)}/{suffix}"


def listed(client: Client, **params) -> set[str]:
    response = client.get(LIST, params)
    assert response.status_code == 200, response.content[:500]
    return {row.pk for row in response.context["cl"].result_list}


def usage_of(thread_id: str) -> int:
    return models.TurnUsage.objects.filter(thread_id=thread_id).aggregate(t=Sum("total_tokens"))[
        "t"
    ]


@pytest.fixture
def staff(django_user_model):
    def make(*codenames: str) -> Client:
        user = django_user_model.objects.create_user(
            f"staff-{'-'.join(codenames) or 'none'}", password="pw", is_staff=True
        )
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def admin(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def threads(chatkit_client, other_client, model):
    """Three threads: a capital question with feedback, a locked greeting, someone else's."""
    model.extend(
        [
            [assistant_message("Paris is the capital of France.")],
            [assistant_message("Quite sure: zanzibarite deposits aside.")],
            [assistant_message("Hello!")],
            [assistant_message("Bonjour from another user.")],
        ]
    )
    capital = chatkit_client.create_thread("What is the capital of France?")
    chatkit_client.send(capital.thread_id, "Are you sure?")
    hello = chatkit_client.create_thread("Just saying hi")
    other = other_client.create_thread("Someone else's question")
    chatkit_client.feedback(capital.thread_id, [capital.assistant_messages[0].id], "negative")
    models.Thread.objects.filter(id=hello.thread_id).update(
        status={"type": "locked", "reason": "Spam"}
    )
    return {"capital": capital.thread_id, "hello": hello.thread_id, "other": other.thread_id}


# -- denormalised columns --------------------------------------------------------------------


def test_turns_keep_the_thread_columns_current(threads):
    capital = models.Thread.objects.get(id=threads["capital"])
    assert capital.item_count == models.ThreadItem.objects.filter(thread=capital).count() == 4
    assert capital.tokens_spent == usage_of(capital.id) > 0
    assert capital.model and capital.provider
    assert (capital.has_negative_feedback, capital.has_positive_feedback) == (True, False)
    assert capital.latest_feedback == "negative"


def test_feedback_changes_and_deletions_keep_the_columns_right(threads, chatkit_client, model):
    thread_id = threads["capital"]
    answers = models.ThreadItem.objects.filter(thread_id=thread_id, type="assistant_message")
    first, second = answers.order_by("created_at", "seq")
    chatkit_client.feedback(thread_id, [first.item_id], "positive")
    thread = models.Thread.objects.get(id=thread_id)
    assert (thread.has_positive_feedback, thread.has_negative_feedback) == (True, False)
    chatkit_client.feedback(thread_id, [second.item_id], "negative")
    thread.refresh_from_db()
    assert (thread.has_positive_feedback, thread.has_negative_feedback) == (True, True)
    assert thread.latest_feedback == "negative"
    # A retry removes the rated answer and writes a new one.
    user_messages = models.ThreadItem.objects.filter(thread_id=thread_id, type="user_message")
    last_question = user_messages.order_by("-created_at", "-seq").first()
    model.enqueue([assistant_message("Yes, Paris.")])
    chatkit_client.retry(thread_id, last_question.item_id)
    thread.refresh_from_db()
    assert thread.item_count == models.ThreadItem.objects.filter(thread_id=thread_id).count()
    assert (thread.has_positive_feedback, thread.has_negative_feedback) == (True, False)
    assert thread.latest_feedback == "positive"
    assert thread.tokens_spent == usage_of(thread_id)


def test_an_item_deleted_outside_a_turn_is_uncounted(threads):
    from asgiref.sync import async_to_sync

    from chatkit_backend.store import DjangoStore
    from chatkit_backend.threads import owner_context

    thread_id = threads["capital"]
    rated = models.ThreadItem.objects.get(thread_id=thread_id, feedback="negative")
    async_to_sync(DjangoStore().delete_thread_item)(
        thread_id, rated.item_id, owner_context(thread_id)
    )
    thread = models.Thread.objects.get(id=thread_id)
    assert thread.item_count == 3
    assert (thread.has_negative_feedback, thread.latest_feedback) == (False, None)


def test_server_code_adding_an_item_counts_it(threads):
    from asgiref.sync import async_to_sync

    from chatkit_backend.threads import append_assistant_message

    async_to_sync(append_assistant_message)(threads["hello"], "An operator's zebrafish note")
    thread = models.Thread.objects.get(id=threads["hello"])
    assert thread.item_count == 3
    item = models.ThreadItem.objects.filter(thread=thread).order_by("-seq").first()
    assert item.text == "An operator's zebrafish note"


# -- the list: filters and search -------------------------------------------------------------


def test_the_list_shows_the_columns_without_aggregating(admin, threads):
    with CaptureQueriesContext(connection) as captured:
        response = admin.get(LIST)
    html = response.content.decode()
    assert "What is the capital of France?" in html and "locked: Spam" in html
    assert 'class="ck-feedback-negative"' in html
    sql = " ".join(q["sql"].upper() for q in captured.captured_queries)
    assert "GROUP BY" not in sql and "chatkit_backend_threaditem".upper() not in sql
    assert len(captured.captured_queries) <= 10


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "locked"}, {"hello"}),
        ({"status": "active"}, {"capital", "other"}),
        ({"status": "closed"}, set()),
        ({"feedback": "negative"}, {"capital"}),
        ({"feedback": "positive"}, set()),
        ({"feedback": "none"}, {"hello", "other"}),
    ],
)
def test_status_and_feedback_filters(admin, threads, params, expected):
    assert listed(admin, **params) == {threads[name] for name in expected}


def test_provider_model_owner_and_date_filters(admin, threads, chatkit_user, other_user):
    models.Thread.objects.filter(id=threads["other"]).update(model="other-model", provider="x")
    capital = models.Thread.objects.get(id=threads["capital"])
    assert listed(admin, model="other-model") == {threads["other"]}
    assert listed(admin, provider="x") == {threads["other"]}
    assert threads["capital"] in listed(admin, model=capital.model)
    assert threads["other"] not in listed(admin, provider=capital.provider)
    assert listed(admin, owner=other_user.pk) == {threads["other"]}
    assert listed(admin, owner=chatkit_user.pk) == {threads["capital"], threads["hello"]}
    assert listed(admin, owner="not-a-number") == set()
    # The choices offered are the values in use.
    choices = admin.get(LIST).content.decode()
    assert "?model=other-model" in choices
    old = timezone.now() - timedelta(days=30)
    models.Thread.objects.filter(id=threads["hello"]).update(updated_at=old)
    since = (timezone.now() - timedelta(days=7)).isoformat()
    assert listed(admin, updated_at__gte=since) == {threads["capital"], threads["other"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("capital", {"capital"}),  # a title
        ("someone-else", {"other"}),  # an owner
        ("zanzibarite", {"capital"}),  # only in an answer's text
        ("Bonjour", {"other"}),
        ("no-such-words-anywhere", set()),
    ],
)
def test_search_finds_titles_owners_and_what_was_said(admin, threads, query, expected):
    assert listed(admin, q=query) == {threads[name] for name in expected}


# -- actions ---------------------------------------------------------------------------------


def act(client: Client, action: str, ids: list[str], **extra) -> object:
    return client.post(
        LIST, {"action": action, "_selected_action": ids, "index": 0, **extra}, follow=False
    )


def test_bulk_lock_close_unlock_reopen_are_logged(admin, threads):
    ids = [threads["capital"], threads["other"]]
    act(admin, "lock", ids, reason="Under review")
    rows = models.Thread.objects.filter(id__in=ids)
    assert {json.dumps(r.status) for r in rows} == {
        json.dumps({"type": "locked", "reason": "Under review"})
    }
    act(admin, "unlock", ids)
    assert {r.status_type for r in rows.all()} == {"active"}
    act(admin, "close", [*ids, threads["hello"]], reason="Resolved")
    assert {r.status["reason"] for r in models.Thread.objects.all()} == {"Resolved"}
    act(admin, "reopen", ids)
    assert {r.status_type for r in rows.all()} == {"active"}
    entries = LogEntry.objects.filter(object_id=threads["capital"]).order_by("action_time", "pk")
    assert [e.change_message for e in entries] == [
        "Locked thread (locked: Under review)",
        "Unlocked thread (open)",
        "Closed thread (closed: Resolved)",
        "Reopened thread (open)",
    ]


def test_status_buttons_on_the_thread_page(admin, threads):
    thread_id = threads["capital"]
    html = admin.get(page_of(thread_id)).content.decode()
    assert 'value="lock"' in html and 'value="close"' in html and 'value="unlock"' not in html
    response = admin.post(page_of(thread_id, "status/"), {"action": "close", "reason": "Done"})
    assert response.status_code == 302
    assert models.Thread.objects.get(id=thread_id).status == {"type": "closed", "reason": "Done"}
    assert LogEntry.objects.filter(object_id=thread_id).count() == 1
    assert admin.post(page_of(thread_id, "status/"), {"action": "explode"}).status_code == 400
    assert admin.get(page_of(thread_id, "status/")).status_code == 405
    assert admin.post(page_of("thr_missing", "status/"), {"action": "lock"}).status_code == 404


def test_the_owner_sees_the_status_and_reason(admin, threads, chatkit_client):
    act(admin, "close", [threads["capital"]], reason="Handled by support")
    status = chatkit_client.get_thread(threads["capital"]).status
    assert (status.type, status.reason) == ("closed", "Handled by support")


def test_export_markdown_and_json(admin, threads):
    response = act(admin, "export_json", [threads["capital"], threads["hello"]])
    document = json.loads(b"".join(response.streaming_content))
    assert {t["id"] for t in document["threads"]} == {threads["capital"], threads["hello"]}
    capital = next(t for t in document["threads"] if t["id"] == threads["capital"])
    assert len(capital["items"]) == 4 and capital["feedback"][0]["kind"] == "negative"
    assert capital["usage"] and document["format"].startswith("chatkit_backend.export")
    page = admin.get(page_of(threads["capital"], "export/markdown/"))
    text = b"".join(page.streaming_content).decode()
    assert page["Content-Disposition"].endswith('.md"')
    assert text.startswith("# What is the capital of France?")
    assert "Paris is the capital of France." in text and "feedback: negative" in text
    assert LogEntry.objects.filter(change_message__startswith="Exported").count() == 3


def test_deleting_threads_removes_their_attachment_files(
    admin, chatkit_client, client, model, media
):
    response = upload(client, "notes.pdf", PDF, "application/pdf")
    attachment_id = response.json()["id"]
    model.enqueue([assistant_message("Read it.")])
    thread_id = chatkit_client.create_thread("See attached", attachments=[attachment_id]).thread_id
    assert stored_files(media)
    response = admin.post(
        LIST,
        {"action": "delete_selected", "_selected_action": [thread_id], "post": "yes"},
    )
    assert response.status_code == 302
    assert not models.Thread.objects.filter(id=thread_id).exists()
    assert not models.Attachment.objects.filter(id=attachment_id).exists()
    assert LogEntry.objects.get(object_id=thread_id).action_flag == DELETION
    assert stored_files(media) == []


# -- permissions ------------------------------------------------------------------------------


def test_viewing_staff_cannot_change_export_or_act(staff, threads):
    viewer = staff("view_thread")
    thread_id = threads["capital"]
    html = viewer.get(LIST).content.decode()
    assert 'value="lock"' not in html and 'value="export_json"' not in html
    act(viewer, "lock", [thread_id], reason="x")
    assert models.Thread.objects.get(id=thread_id).status_type == "active"
    assert viewer.get(page_of(thread_id, "export/json/")).status_code == 403
    assert viewer.post(page_of(thread_id, "status/"), {"action": "lock"}).status_code == 403
    page = viewer.get(page_of(thread_id)).content.decode()
    assert "Export as JSON" not in page and 'value="lock"' not in page
    assert viewer.get(LIST + "?status=locked").status_code == 200


def test_export_needs_export_thread(staff, threads):
    exporter = staff("view_thread", "export_thread")
    response = exporter.get(page_of(threads["capital"], "export/json/"))
    assert response.status_code == 200
    act(exporter, "lock", [threads["capital"]])
    assert models.Thread.objects.get(id=threads["capital"]).status_type == "active"


def test_changing_the_title_does_not_allow_changing_the_status(staff, threads):
    editor = staff("view_thread", "change_thread")
    thread_id = threads["capital"]
    response = editor.post(
        page_of(thread_id),
        {"title": "Renamed", "state": "closed", "reason": "sneaky", "metadata": "{}"},
    )
    assert response.status_code == 302
    thread = models.Thread.objects.get(id=thread_id)
    assert (thread.title, thread.status_type) == ("Renamed", "active")
    assert editor.post(page_of(thread_id, "status/"), {"action": "lock"}).status_code == 403
    moderator = staff("view_thread", "change_thread", "change_thread_status")
    moderator.post(
        page_of(thread_id),
        {"title": "Renamed", "state": "locked", "reason": "Abuse", "metadata": "{}"},
    )
    assert models.Thread.objects.get(id=thread_id).status == {"type": "locked", "reason": "Abuse"}


def test_the_admin_index_links_the_thread_list(admin):
    assert (
        reverse("admin:chatkit_backend_thread_changelist") in admin.get("/admin/").content.decode()
    )


def test_status_changes_are_announced_to_the_owner(admin, threads, chatkit_user):
    from chatkit_backend.signals import thread_changed

    heard = []

    def receiver(sender, thread_id, context, change, **kwargs):
        heard.append((thread_id, change, context.owner.user_id))

    thread_changed.connect(receiver)
    try:
        act(admin, "lock", [threads["capital"], threads["hello"]], reason="Paused")
    finally:
        thread_changed.disconnect(receiver)
    # The locked one is left as it was: only the open thread changed, and only it is announced.
    assert heard == [(threads["capital"], "thread", chatkit_user.pk)]


def test_item_and_usage_lists_filter_without_scanning_for_choices(admin, threads):
    with CaptureQueriesContext(connection) as captured:
        response = admin.get("/admin/chatkit_backend/threaditem/", {"type": "user_message"})
    assert response.status_code == 200
    assert {row.type for row in response.context["cl"].result_list} == {"user_message"}
    assert not any("DISTINCT" in q["sql"].upper() for q in captured.captured_queries)
    capital = models.Thread.objects.get(id=threads["capital"])
    usage = admin.get("/admin/chatkit_backend/turnusage/", {"model": capital.model})
    assert len(usage.context["cl"].result_list) == models.TurnUsage.objects.count()
    assert f"?model={capital.model}" in usage.content.decode()


@pytest.mark.parametrize("query", ["'&|!:*(", '"unclosed', "-", "or", "%_\\", "a" * 300, "\x00x"])
def test_any_search_input_answers_a_page(admin, threads, query):
    response = admin.get(LIST, {"q": query})
    assert response.status_code == 200
