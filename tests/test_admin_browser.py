"""The admin's operations pages in headless Chromium: the example site under uvicorn, as staff.

Threads come from the site's own ``chatkit/api`` (the offline demo model answers), a few
days of usage from the site's shell. ``CHATKIT_SCREENSHOTS=docs/screenshots pytest
tests/test_admin_browser.py`` also writes the README's screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chatkit_backend.testing import ChatKitClient
from tests.support.browser import needs_chromium, screenshot
from tests.support.example_site import ExampleSite, Server, example_database, site_environment

pytestmark = needs_chromium

PASSWORD = "correct-horse-battery"
USERS = f"""
from django.contrib.auth import get_user_model
User = get_user_model()
User.objects.create_superuser("operator", password={PASSWORD!r})
for name in ("alice", "bob"):
    User.objects.create_user(name, password={PASSWORD!r})
"""
# Three weeks of usage by two models, so the dashboard has something to draw.
USAGE = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from chatkit_backend import models
users = list(get_user_model().objects.filter(username__in=["alice", "bob"]).order_by("username"))
now = timezone.now()
for day in range(21):
    for n, (user, model) in enumerate([(users[0], "gpt-4.1-mini"), (users[1], "gemini-2.5-flash")]):
        row = models.TurnUsage.objects.create(
            owner=user, provider="openai", model=model, requests=1,
            input_tokens=300 + 40 * day, output_tokens=120 + 25 * n,
            total_tokens=420 + 40 * day + 25 * n,
        )
        models.TurnUsage.objects.filter(pk=row.pk).update(created_at=now - timedelta(days=day))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_dir = tmp_path_factory.mktemp("admin-site")
    with example_database(tmp_dir) as database:
        site = ExampleSite(site_environment(database), tmp_dir)
        site.manage("migrate", "--noinput", "-v", "0")
        site.manage("shell", "-c", USERS)
        try:
            running = site.start("uvicorn")
            seed(running)
            site.manage("shell", "-c", USAGE)
            yield running
        finally:
            site.stop()


def api_as(server: Server, username: str) -> ChatKitClient:
    return ChatKitClient(server.bearer_client(username, PASSWORD))


def seed(server: Server) -> None:
    alice, bob = api_as(server, "alice"), api_as(server, "bob")
    trip = alice.create_thread("Plan a weekend in Lisbon with **two** museum visits")
    alice.send(trip.thread_id, "And where should we eat near Alfama?")
    alice.feedback(trip.thread_id, [trip.assistant_messages[0].id], "positive")
    bob.create_thread("My invoice shows the wrong VAT number")
    refund = bob.create_thread("How do I get a refund for order 1234?")
    bob.feedback(refund.thread_id, [refund.assistant_messages[0].id], "negative")


def log_in(page: Any, server: Server) -> None:
    page.goto(f"{server.base_url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.base_url}/admin/")


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def test_thread_list_thread_page_and_dashboard_render(browser_context: Any, server: Server):
    page = browser_context.new_page()
    log_in(page, server)
    # The thread list, from the admin index, filtered by negative feedback and then not.
    page.get_by_role("link", name="Threads", exact=True).click()
    expect(page.locator("#result_list")).to_contain_text("Plan a weekend in Lisbon")
    expect(page.locator("#changelist-filter")).to_contain_text("has negative feedback")
    page.get_by_role("link", name="has negative feedback").click()
    expect(page.locator("#result_list")).to_contain_text("refund for order 1234")
    expect(page.locator("#result_list")).not_to_contain_text("Lisbon")
    page.goto(f"{server.base_url}/admin/chatkit_backend/thread/?q=Alfama")
    expect(page.locator("#result_list")).to_contain_text("Plan a weekend in Lisbon")
    page.goto(f"{server.base_url}/admin/chatkit_backend/thread/")
    screenshot(page, "admin-thread-list")
    # A thread page: its transcript, status buttons and exports.
    page.get_by_role("link", name="Plan a weekend in Lisbon").first.click()
    transcript = page.locator(".chatkit-transcript")
    expect(transcript).to_contain_text("And where should we eat near Alfama?")
    expect(transcript).to_contain_text("feedback: positive")
    expect(transcript.locator("strong", has_text="two").first).to_be_visible()  # markdown
    expect(page.get_by_role("button", name="Lock")).to_be_visible()
    expect(page.get_by_role("link", name="Export as Markdown")).to_be_visible()
    screenshot(page, "admin-thread-page")
    # Locking it from the page shows the new status.
    page.get_by_label("Reason shown to the user:").fill("Waiting for a human")
    page.get_by_role("button", name="Lock").click()
    expect(page.locator("#id_reason")).to_have_value("Waiting for a human")
    # The dashboard, from the admin index.
    page.goto(f"{server.base_url}/admin/")
    page.get_by_role("link", name="Usage dashboard", exact=True).click()
    charts = page.locator("figure.ck-chart svg")
    expect(charts.first).to_be_visible()
    assert charts.count() == 3  # no budget configured: no budget chart
    expect(page.locator(".ck-dashboard")).to_contain_text("gemini-2.5-flash")
    screenshot(page, "admin-usage-dashboard")
    page.goto(f"{server.base_url}/admin/chatkit_backend/rateditem/")
    expect(page.locator("#result_list")).to_contain_text("How do I get a refund")
    screenshot(page, "admin-feedback")
