"""Database queries per turn: few, and the same however long the thread is."""

from datetime import timedelta

import pytest
from agents.testing import assistant_message
from chatkit.types import AssistantMessageContent, AssistantMessageItem
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from chatkit_backend import models
from chatkit_backend.testing import ChatKitClient

pytestmark = pytest.mark.django_db(transaction=True)


def prefill(thread_id: str, count: int) -> None:
    start = timezone.now() - timedelta(days=1)
    models.ThreadItem.objects.bulk_create(
        models.ThreadItem(
            thread_id=thread_id,
            item_id=f"msg_old{n:06d}",
            type="assistant_message",
            created_at=start + timedelta(seconds=n),
            data=AssistantMessageItem(
                id=f"msg_old{n:06d}",
                thread_id=thread_id,
                created_at=start + timedelta(seconds=n),
                content=[AssistantMessageContent(text=f"old answer {n}")],
            ).model_dump(mode="json"),
        )
        for n in range(count)
    )


def turn_queries(client, chatkit_user, model, size):
    api = ChatKitClient(
        client, headers={"Authorization": f"Bearer {AccessToken.for_user(chatkit_user)}"}
    )
    model.enqueue([assistant_message("first")])
    thread_id = api.create_thread("start").thread_id
    prefill(thread_id, size)
    model.enqueue([assistant_message("plain answer")])
    with CaptureQueriesContext(connection) as captured:
        result = api.send(thread_id, "a plain text turn")
    assert result.errors == [] and result.assistant_text == "plain answer"
    # Transaction control (BEGIN/COMMIT, which only SQLite's backend logs) is not a query.
    return [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]


def test_a_plain_turn_costs_at_most_eight_queries_whatever_the_length(client, chatkit_user, model):
    short = turn_queries(client, chatkit_user, model, 10)
    long = turn_queries(client, chatkit_user, model, 2000)
    assert len(short) == len(long), (short, long)
    # The user (JWT); the turn's claim on the thread (which also proves write access) and the
    # thread; the user's message; the history; the answer; then, when the turn ends, its usage
    # and the release of its claim. Seven before turns claimed their thread: the claim took
    # the place of the "last activity" update, its release is the eighth. The release also
    # brings the admin's thread columns up to date (item count, feedback, tokens, model: see
    # store/counters.py), so they cost no query of their own.
    assert len(short) <= 8, "\n".join(short)
