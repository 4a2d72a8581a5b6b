"""Database queries per turn: few, and the same however long the thread is."""

from datetime import timedelta

import pytest
from agents.testing import assistant_message
from chatkit.types import AssistantMessageContent, AssistantMessageItem
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from chatkit_backend import models
from chatkit_backend.testing import ChatKitClient
from tests.support.db import make_thread
from tests.support.queries import captured_statements, queries_only

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


def turn_queries(client, chatkit_user, model, monkeypatch, size):
    """The queries of one plain turn on a thread of ``size`` items written straight to the
    database (so the turn is the first this process hears of the thread), counted in every
    thread: the store's work runs on its own pool."""
    api = ChatKitClient(
        client, headers={"Authorization": f"Bearer {AccessToken.for_user(chatkit_user)}"}
    )
    thread_id = make_thread(chatkit_user)
    prefill(thread_id, size)
    model.enqueue([assistant_message("plain answer")])
    with captured_statements(monkeypatch) as statements:
        result = api.send(thread_id, "a plain text turn")
    assert result.errors == [] and result.assistant_text == "plain answer"
    # Transaction control (BEGIN/COMMIT, savepoints) is not a query.
    return queries_only(statements)


def test_a_plain_turn_costs_at_most_eight_queries_whatever_the_length(
    client, chatkit_user, model, monkeypatch
):
    short = turn_queries(client, chatkit_user, model, monkeypatch, 10)
    long = turn_queries(client, chatkit_user, model, monkeypatch, 2000)
    assert len(short) == len(long), (short, long)
    # The user (JWT); the turn's claim on the thread (which also proves write access) and the
    # thread; the history; the user's message; the answer; then, when the turn ends, its usage
    # and the release of its claim. The release also brings the admin's thread columns up to
    # date (item count, feedback, tokens, model: see store/counters.py), and the live notices
    # of the turn's writes know the thread's owner from its claim, so neither costs a query.
    assert 0 < len(short) <= 8, "\n".join(short)
