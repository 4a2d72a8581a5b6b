"""A turn's held writes (``store.pending``): seen within the turn, stored in its last hop, and
dropped quietly when the thread was deleted meanwhile (on PostgreSQL, foreign keys are only
checked when that hop commits)."""

from __future__ import annotations

from datetime import datetime

import pytest
from chatkit.types import AssistantMessageContent, AssistantMessageItem
from django.utils import timezone

from chatkit_backend import models
from chatkit_backend.context import Owner, RequestContext
from chatkit_backend.store import DjangoStore
from chatkit_backend.store.memo import memo_of
from chatkit_backend.turns import unregister

pytestmark = pytest.mark.django_db(transaction=True)


def answer(thread_id: str, text: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=f"msg_{text}",
        thread_id=thread_id,
        created_at=datetime.now(),
        content=[AssistantMessageContent(text=text)],
    )


@pytest.fixture
def context(django_user_model):
    user = django_user_model.objects.create(username="held")
    now = timezone.now()
    models.Thread.objects.create(id="thr_held", owner=user, created_at=now, updated_at=now)
    return RequestContext(owner=Owner(user_id=user.pk))


def answering_turn(store: DjangoStore, context: RequestContext):
    turn = store.claim_turn("thr_held", context)
    store.prefetch_history("thr_held", 50, context)
    turn.pending.answering = True
    return turn


def test_held_items_are_read_within_the_turn_and_stored_at_its_end(context):
    store = DjangoStore()
    turn = answering_turn(store, context)
    assert store.hold_item("thr_held", answer("thr_held", "one"), context)
    assert store.hold_item("thr_held", answer("thr_held", "two"), context)
    assert not models.ThreadItem.objects.filter(thread_id="thr_held").exists()
    newest = memo_of(context).newest_page("thr_held", 50, context)
    assert [item.id for item in newest.data] == ["msg_two", "msg_one"]
    store.write_held(turn, context)
    stored = models.ThreadItem.objects.filter(thread_id="thr_held").order_by("seq")
    assert [row.item_id for row in stored] == ["msg_one", "msg_two"]
    assert turn.stopped is None


def test_a_thread_deleted_by_another_worker_drops_the_held_items(context):
    store = DjangoStore()
    turn = answering_turn(store, context)
    store.hold_item("thr_held", answer("thr_held", "late"), context)
    unregister(turn)  # the delete happens elsewhere: this worker's turn is not told
    models.Thread.objects.filter(id="thr_held").delete()
    store.write_held(turn, context)  # no error: the turn stops, its items have nowhere to go
    assert turn.stopped == "deleted"
    assert not models.ThreadItem.objects.filter(item_id="msg_late").exists()
