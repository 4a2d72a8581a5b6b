"""The admin's Feedback review and usage dashboard."""

import re
from datetime import timedelta

import pytest
from agents.testing import assistant_message
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from chatkit_backend import models

pytestmark = pytest.mark.django_db(transaction=True)
FEEDBACK = "/admin/chatkit_backend/rateditem/"
DASHBOARD = "/admin/chatkit_backend/usagedashboard/"


@pytest.fixture
def admin(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def staff_with(django_user_model, *codenames: str) -> Client:
    user = django_user_model.objects.create_user("staffer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


# -- feedback -------------------------------------------------------------------------------


@pytest.fixture
def rated(chatkit_client, model):
    model.extend(
        [
            [assistant_message("Paris.")],
            [assistant_message("Certainly Lyon.")],
            [assistant_message("Hi there.")],
        ]
    )
    first = chatkit_client.create_thread("Capital of France?")
    second = chatkit_client.send(first.thread_id, "Second city?")
    other = chatkit_client.create_thread("Hello")
    chatkit_client.feedback(first.thread_id, [first.assistant_messages[0].id], "positive")
    chatkit_client.feedback(first.thread_id, [second.assistant_messages[0].id], "negative")
    return {"thread": first.thread_id, "other": other.thread_id}


def rows_of(client: Client, **params):
    response = client.get(FEEDBACK, params)
    assert response.status_code == 200
    return response, list(response.context["cl"].result_list)


def test_feedback_rows_show_the_question_rating_and_thread(admin, rated):
    response, rows = rows_of(admin)
    assert [(r.question_text, r.text, r.feedback) for r in rows] == [
        ("Second city?", "Certainly Lyon.", "negative"),
        ("Capital of France?", "Paris.", "positive"),
    ]
    html = response.content.decode()
    assert ">negative</span>" in html and "Second city?" in html
    assert f"/admin/chatkit_backend/thread/{rated['thread']}/change/" in html.replace("_5F", "_")


def test_feedback_filters_by_rating_and_date(admin, rated):
    assert [r.feedback for r in rows_of(admin, feedback="positive")[1]] == ["positive"]
    assert [r.feedback for r in rows_of(admin, feedback="negative")[1]] == ["negative"]
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    assert rows_of(admin, feedback_at__gte=tomorrow)[1] == []
    week_ago = (timezone.now() - timedelta(days=7)).isoformat()
    assert len(rows_of(admin, feedback_at__gte=week_ago)[1]) == 2


def test_feedback_needs_view_threaditem(django_user_model, rated):
    nobody = staff_with(django_user_model)
    assert nobody.get(FEEDBACK).status_code == 403
    assert "rateditem" not in nobody.get("/admin/").content.decode()


# -- dashboard ------------------------------------------------------------------------------


@pytest.fixture
def usage(django_user_model, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": 100}
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob<script>")
    now = timezone.now()

    def spend(owner, model, tokens, days_ago=0):
        row = models.TurnUsage.objects.create(
            owner=owner, provider="openai", model=model, total_tokens=tokens
        )
        models.TurnUsage.objects.filter(pk=row.pk).update(created_at=now - timedelta(days=days_ago))

    spend(alice, "gpt-a", 60)
    spend(alice, "gpt-a", 40)
    spend(bob, "<b>gpt-b</b>", 50)
    spend(alice, "gpt-a", 30, days_ago=2)
    spend(alice, "gpt-a", 1000, days_ago=40)
    today = timezone.localdate()
    models.DailyUsage.objects.create(owner=alice, day=today, spent=100)
    models.DailyUsage.objects.create(owner=bob, day=today, spent=50)
    return alice, bob


def totals(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-total="(\d+)"', html)]


def test_dashboard_totals_for_a_known_fixture(admin, usage):
    html = admin.get(DASHBOARD).content.decode()
    # Tokens per day, turns per day (last 30 days), top users, today's use per owner.
    assert totals(html) == [180, 4, 180, 150]
    today = timezone.localdate().isoformat()
    assert f"<title>{today} · gpt-a: 100 tokens</title>" in html
    assert f"<title>{today} · gpt-a: 2 turns</title>" in html
    assert "<title>alice: 130 tokens</title>" in html
    assert "<title>budget: 100 tokens</title>" in html
    assert re.search(r'class="ck-over">\s*1\s*<', html)
    # Labels are data: escaped in the SVG.
    assert "<script>" not in html and "<b>gpt-b" not in html and "bob&lt;script&gt;" in html
    assert "<svg" in html and "cdn" not in html.lower()


def test_dashboard_period_and_no_budget(admin, usage, settings):
    assert totals(admin.get(DASHBOARD, {"days": 90}).content.decode())[:3] == [1180, 5, 1180]
    assert totals(admin.get(DASHBOARD, {"days": "nonsense"}).content.decode())[0] == 180
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": None}
    assert "No <code>DAILY_TOKEN_BUDGET</code> is set" in admin.get(DASHBOARD).content.decode()


def test_dashboard_is_linked_from_the_index_for_those_allowed(admin, django_user_model, usage):
    assert DASHBOARD in admin.get("/admin/").content.decode()
    assert FEEDBACK in admin.get("/admin/").content.decode()
    nobody = staff_with(django_user_model)
    assert nobody.get(DASHBOARD).status_code == 403
    assert DASHBOARD not in nobody.get("/admin/").content.decode()
