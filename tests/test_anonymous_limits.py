"""Anonymous visitors (``ALLOW_ANONYMOUS``): CSRF like a logged-in session, and limits that
hold when the visitor drops their session cookie.

Before: anonymous writes had no CSRF or Origin check (``threads.update`` from a foreign origin
changed a title), and rate limits and budgets started afresh with every new session.
"""

from __future__ import annotations

import json

import pytest
from agents import Usage
from agents.testing import assistant_message
from django.test import Client

from chatkit_backend import models
from chatkit_backend.intake.clients import client_address
from chatkit_backend.testing import ChatKitClient, message_input, parse_sse

pytestmark = pytest.mark.django_db(transaction=True)

LIST = json.dumps({"type": "threads.list", "params": {}})


@pytest.fixture
def anonymous(settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ALLOW_ANONYMOUS": True}
    return settings


def browser(address: str = "203.0.113.7", **headers: str) -> Client:
    """A browser without a login, from ``address``, whose requests carry its CSRF token."""
    visitor = Client(enforce_csrf_checks=True, REMOTE_ADDR=address, headers=headers)
    visitor.get("/admin/login/")  # sets the csrftoken cookie, as the site's page does
    return visitor


def api_for(visitor: Client) -> ChatKitClient:
    return ChatKitClient(visitor, headers={"X-CSRFToken": visitor.cookies["csrftoken"].value})


class TestCsrf:
    def test_a_cross_site_write_is_refused(self, anonymous, model):
        visitor = browser()
        model.enqueue([assistant_message("hello")])
        thread_id = api_for(visitor).create_thread("hi").thread_id
        title = models.Thread.objects.get().title
        # A page on another origin makes the visitor's browser post, cookies and all, but it
        # cannot read the CSRF token.
        forged = visitor.post(
            "/chatkit/api",
            json.dumps(
                {"type": "threads.update", "params": {"thread_id": thread_id, "title": "pwned"}}
            ),
            content_type="application/json",
            headers={"Origin": "https://evil.example"},
        )
        assert forged.status_code == 403, forged.content
        assert forged["Content-Type"] == "application/json"
        assert "CSRF" in forged.json()["error"]["message"]
        assert models.Thread.objects.get().title == title

    def test_a_first_request_without_the_token_creates_no_session(self, anonymous):
        visitor = Client(enforce_csrf_checks=True)
        response = visitor.post("/chatkit/api", LIST, content_type="application/json")
        assert response.status_code == 403
        assert "sessionid" not in visitor.cookies

    def test_uploads_need_the_token_too(self, anonymous):
        from django.core.files.uploadedfile import SimpleUploadedFile

        visitor = browser()
        response = visitor.post(
            "/chatkit/api/upload", {"file": SimpleUploadedFile("a.txt", b"hi", "text/plain")}
        )
        assert response.status_code == 403
        assert models.Attachment.objects.count() == 0

    def test_with_the_token_the_visitor_chats(self, anonymous, model):
        api = api_for(browser())
        model.enqueue([assistant_message("hello visitor")])
        result = api.create_thread("hi")
        assert result.assistant_text == "hello visitor"
        assert api.update_thread(result.thread_id, "renamed").title == "renamed"


class TestLimitsKeyedOnTheAddress:
    def test_a_new_session_does_not_reset_the_rate_limit(self, anonymous):
        anonymous.CHATKIT_BACKEND = {
            **anonymous.CHATKIT_BACKEND,
            "THROTTLE_RATES": {"requests": "2/min"},
        }
        first = api_for(browser())
        assert [first.request("threads.list").status for _ in range(2)] == [200, 200]
        # The same visitor, cookies dropped: a new session from the same address.
        again = api_for(browser())
        assert again.request("threads.list").status == 429
        # Someone else, elsewhere, is not affected.
        assert api_for(browser("198.51.100.1")).request("threads.list").status == 200

    def test_a_forged_forwarded_for_header_changes_nothing(self, anonymous):
        anonymous.CHATKIT_BACKEND = {
            **anonymous.CHATKIT_BACKEND,
            "THROTTLE_RATES": {"requests": "1/min"},
        }
        assert api_for(browser()).request("threads.list").status == 200
        spoofed = api_for(browser(**{"X-Forwarded-For": "192.0.2.55"}))
        assert spoofed.request("threads.list").status == 429

    def test_a_new_session_does_not_reset_the_budget(self, anonymous, model):
        anonymous.CHATKIT_BACKEND = {**anonymous.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": 100}
        model.set_default_usage(
            Usage(requests=1, input_tokens=60, output_tokens=50, total_tokens=110)
        )
        model.enqueue([assistant_message("expensive")])
        assert api_for(browser()).create_thread("first").assistant_text == "expensive"
        response = api_for(browser()).request("threads.create", input=message_input("again"))
        events = parse_sse(response.content)
        assert [event.type for event in events] == ["error"]
        assert "allowance" in events[0].message
        # Another address has its own budget.
        model.enqueue([assistant_message("fine")])
        assert api_for(browser("198.51.100.1")).create_thread("hi").assistant_text == "fine"

    def test_logged_in_users_are_counted_per_user_not_per_address(
        self, anonymous, chatkit_user, other_user
    ):
        anonymous.CHATKIT_BACKEND = {
            **anonymous.CHATKIT_BACKEND,
            "THROTTLE_RATES": {"requests": "1/min"},
        }
        for user in (chatkit_user, other_user):
            signed_in = Client(REMOTE_ADDR="203.0.113.7")
            signed_in.force_login(user)
            assert ChatKitClient(signed_in).request("threads.list").status == 200


class TestClientAddress:
    """Where the address comes from: the connection, or a trusted proxy's header."""

    def request(self, rf, remote: str, forwarded: str | None = None):
        headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
        return rf.post("/chatkit/api", REMOTE_ADDR=remote, headers=headers)

    def test_without_trusted_proxies_the_header_is_ignored(self, rf, settings):
        assert client_address(self.request(rf, "203.0.113.7", "192.0.2.55")) == "203.0.113.7"

    @pytest.mark.parametrize(
        ("proxies", "forwarded", "expected"),
        [
            (1, "192.0.2.55", "192.0.2.55"),
            # A client may send its own header; the proxy appends the address it saw.
            (1, "10.9.9.9, 192.0.2.55", "192.0.2.55"),
            (2, "10.9.9.9, 192.0.2.55, 10.0.0.2", "192.0.2.55"),
            # Fewer entries than proxies: the request did not come through them all.
            (2, "192.0.2.55", "203.0.113.7"),
            (1, "not an address", "203.0.113.7"),
            (1, None, "203.0.113.7"),
        ],
    )
    def test_trusted_proxies_name_the_client(self, rf, settings, proxies, forwarded, expected):
        settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "TRUSTED_PROXIES": proxies}
        assert client_address(self.request(rf, "203.0.113.7", forwarded)) == expected

    def test_a_trusted_proxy_separates_visitors_behind_it(self, anonymous):
        anonymous.CHATKIT_BACKEND = {
            **anonymous.CHATKIT_BACKEND,
            "THROTTLE_RATES": {"requests": "1/min"},
            "TRUSTED_PROXIES": 1,
        }
        for visitor in ("192.0.2.1", "192.0.2.2"):
            api = api_for(browser("10.0.0.2", **{"X-Forwarded-For": visitor}))
            assert api.request("threads.list").status == 200
        api = api_for(browser("10.0.0.2", **{"X-Forwarded-For": "192.0.2.1"}))
        assert api.request("threads.list").status == 429
