"""At ``DAILY_TOKEN_BUDGET_WARNING`` (80%) of the daily budget, a turn's stream carries a
warning notice, once a day per owner; at 100% turns are refused (``test_budgets``)."""

from __future__ import annotations

import pytest
from chatkit.types import NoticeEvent, StreamOptionsEvent, ThreadItemDoneEvent
from django.utils import timezone

from chatkit_backend import models

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def budget(settings):
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "DAILY_TOKEN_BUDGET": 1000,
        "TURN_TOKEN_RESERVATION": 10,
    }


def spent_today(user, tokens: int) -> None:
    models.DailyUsage.objects.update_or_create(
        owner=user, day=timezone.localdate(), defaults={"spent": tokens}
    )


def notices(result) -> list[NoticeEvent]:
    return [event for event in result.events if isinstance(event, NoticeEvent)]


def test_the_notice_comes_at_80_percent_once_a_day(chatkit_client, chatkit_user, budget):
    spent_today(chatkit_user, 799)
    below = chatkit_client.create_thread("Hello")
    assert below.errors == [] and notices(below) == []

    spent_today(chatkit_user, 800)
    at = chatkit_client.send(below.thread_id, "Again")
    [notice] = notices(at)
    assert notice.level == "warning"
    assert notice.message.startswith("You have used 80% of today's allowance")
    assert at.errors == [] and at.assistant_text  # the turn itself goes on
    # It comes first, before the answer.
    kinds = [type(event) for event in at.events]
    assert kinds.index(NoticeEvent) == kinds.index(StreamOptionsEvent) + 1
    assert kinds.index(NoticeEvent) < max(
        i for i, e in enumerate(at.events) if isinstance(e, ThreadItemDoneEvent)
    )

    later = chatkit_client.send(below.thread_id, "And again")
    assert notices(later) == []
    assert models.DailyUsage.objects.get(owner=chatkit_user).budget_warned


def test_each_owner_is_warned_once(chatkit_client, other_client, chatkit_user, other_user, budget):
    spent_today(chatkit_user, 900)
    spent_today(other_user, 900)
    assert len(notices(chatkit_client.create_thread("Mine"))) == 1
    assert len(notices(other_client.create_thread("Theirs"))) == 1
    assert notices(chatkit_client.create_thread("Mine again")) == []


def test_no_warning_when_it_is_turned_off(chatkit_client, chatkit_user, budget, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET_WARNING": None}
    spent_today(chatkit_user, 990)
    assert notices(chatkit_client.create_thread("Hello")) == []


def test_a_lower_share_warns_earlier(chatkit_client, chatkit_user, budget, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET_WARNING": 0.5}
    spent_today(chatkit_user, 500)
    [notice] = notices(chatkit_client.create_thread("Hello"))
    assert "50%" in notice.message
