"""Authentication, origins, rate limits and input limits (secure by default)."""

import json
from datetime import timedelta

import jwt
import pytest
from agents.testing import assistant_message
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework_simplejwt.tokens import AccessToken

from chatkit_backend import models
from chatkit_backend.attachments import tokens
from chatkit_backend.testing import message_input, parse_sse
from tests.support.db import snapshot

pytestmark = pytest.mark.django_db(transaction=True)

LIST = json.dumps({"type": "threads.list", "params": {}})


def bearer(client, token):
    return client.post(
        "/chatkit/api",
        data=LIST,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def forged(payload, key=None, algorithm="HS256"):
    return jwt.encode(payload, key or django_settings.SECRET_KEY, algorithm=algorithm)


class TestJWT:
    def test_valid_token(self, client, chatkit_user):
        assert bearer(client, AccessToken.for_user(chatkit_user)).status_code == 200

    @pytest.mark.parametrize(
        "case", ["expired", "bad_signature", "alg_none", "unknown_user", "inactive_user", "garbage"]
    )
    def test_bad_tokens_are_401_with_a_challenge(self, client, chatkit_user, case):
        token = AccessToken.for_user(chatkit_user)
        if case == "expired":
            token.set_exp(lifetime=-timedelta(minutes=1))
            raw = str(token)
        elif case == "bad_signature":
            raw = forged(dict(token.payload), key="not-the-secret-key-not-the-secret-key")
        elif case == "alg_none":
            raw = jwt.encode(dict(token.payload), key="", algorithm="none")
        elif case == "unknown_user":
            payload = dict(token.payload)
            payload["user_id"] = str(chatkit_user.pk + 1000)
            raw = forged(payload)
        elif case == "inactive_user":
            chatkit_user.is_active = False
            chatkit_user.save()
            raw = str(token)
        else:
            raw = "not.a.token"
        response = bearer(client, raw)
        assert response.status_code == 401, (case, response.content)
        assert response.json()["error"]["code"] == "authentication_failed"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize("case", ["expired", "garbage"])
    def test_the_401_message_is_readable_text(self, client, chatkit_user, case):
        # Before: "{'detail': ErrorDetail(string='Given token not valid for any token type'..."
        token = AccessToken.for_user(chatkit_user)
        token.set_exp(lifetime=-timedelta(minutes=1))
        raw = str(token) if case == "expired" else "not.a.token"
        message = bearer(client, raw).json()["error"]["message"]
        assert message == "Given token not valid for any token type", message

    def test_missing_credentials(self, client):
        response = client.post("/chatkit/api", data=LIST, content_type="application/json")
        assert response.status_code == 401


class TestCsrfAndOrigins:
    def test_session_needs_the_csrf_token(self, chatkit_user):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(chatkit_user)
        refused = client.post("/chatkit/api", data=LIST, content_type="application/json")
        assert refused.status_code == 403
        client.get("/admin/login/")  # sets the csrftoken cookie
        token = client.cookies["csrftoken"].value
        accepted = client.post(
            "/chatkit/api",
            data=LIST,
            content_type="application/json",
            headers={"X-CSRFToken": token},
        )
        assert accepted.status_code == 200

    @pytest.mark.parametrize(
        ("origin", "allowed"),
        [("https://frontend.example", True), ("https://evil.example", False)],
    )
    def test_cors_preflight(self, client, origin, allowed):
        response = client.options(
            "/chatkit/api",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert response.status_code == 200
        header = response.headers.get("Access-Control-Allow-Origin")
        if allowed:
            assert header == origin
            assert "authorization" in response.headers["Access-Control-Allow-Headers"]
        else:
            assert header is None

    def test_origin_allowlist(self, client, chatkit_user, settings):
        settings.CHATKIT_BACKEND = {
            **settings.CHATKIT_BACKEND,
            "ALLOWED_ORIGINS": ["https://frontend.example"],
        }
        token = AccessToken.for_user(chatkit_user)
        for origin, status in [
            ("https://frontend.example", 200),
            ("https://evil.example", 403),
            (None, 200),
        ]:
            headers = {"Authorization": f"Bearer {token}"}
            if origin:
                headers["Origin"] = origin
            response = client.post(
                "/chatkit/api", data=LIST, content_type="application/json", headers=headers
            )
            assert response.status_code == status, origin


class TestRateLimits:
    def test_json_ops_past_the_limit_are_429(self, chatkit_client, settings):
        settings.CHATKIT_BACKEND = {
            **settings.CHATKIT_BACKEND,
            "THROTTLE_RATES": {"requests": "3/min"},
        }
        statuses = [chatkit_client.request("threads.list").status for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        last = chatkit_client.request("threads.list")
        assert last.json()["error"]["code"] == "throttled"
        assert int(last.headers["retry-after"]) >= 1

    def test_turns_past_the_limit_get_an_error_event_and_store_nothing(
        self, chatkit_client, model, settings
    ):
        settings.CHATKIT_BACKEND = {
            **settings.CHATKIT_BACKEND,
            "THROTTLE_RATES": {"turns": "2/min"},
        }
        model.extend([[assistant_message("one")], [assistant_message("two")]])
        thread_id = chatkit_client.create_thread("one").thread_id
        chatkit_client.send(thread_id, "two")
        before = snapshot()
        response = chatkit_client.request(
            "threads.add_user_message", thread_id=thread_id, input=message_input("three")
        )
        assert response.status == 200 and response.is_stream
        events = parse_sse(response.content)
        assert len(events) == 1 and events[0].type == "error"
        assert "Too many requests" in events[0].message and events[0].allow_retry
        assert snapshot() == before
        # Other users are not affected.
        assert model.remaining_steps == 0

    def test_limits_are_per_user(self, chatkit_client, other_client, settings):
        settings.CHATKIT_BACKEND = {
            **settings.CHATKIT_BACKEND,
            "THROTTLE_RATES": {"requests": "1/min"},
        }
        assert chatkit_client.request("threads.list").status == 200
        assert chatkit_client.request("threads.list").status == 429
        assert other_client.request("threads.list").status == 200

    def test_defaults_limit_turns(self):
        from chatkit_backend.conf import DEFAULTS

        assert DEFAULTS["THROTTLE_RATES"]["turns"]


class TestInputLimits:
    def test_unknown_fields_are_400(self, chatkit_client, model):
        body = {"type": "threads.list", "params": {"limit": 5, "sneaky": True}}
        response = chatkit_client.post(json.dumps(body))
        assert response.status == 400
        assert response.json()["error"] == {
            "code": "unknown_field",
            "message": "Unknown field: params.sneaky.",
        }

    def test_widget_action_config_fields_are_known(self, chatkit_client, model):
        model.enqueue([assistant_message("ok")])
        thread_id = chatkit_client.create_thread("hi").thread_id
        model.enqueue([assistant_message("acted")])
        action = {
            "type": "go",
            "payload": {"x": 1, "anything": [1]},
            "handler": "server",
            "loadingBehavior": "auto",
            "streaming": True,
        }
        result = chatkit_client.custom_action(thread_id, action)
        assert result.assistant_text == "acted"

    def test_too_long_message_is_400(self, chatkit_client, settings):
        settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "MAX_MESSAGE_CHARS": 10}
        response = chatkit_client.request("threads.create", input=message_input("x" * 11))
        assert response.status == 400
        assert response.json()["error"]["code"] == "message_too_long"
        assert models.Thread.objects.count() == 0

    def test_closed_thread_refuses_retry(self, chatkit_client, model):
        model.enqueue([assistant_message("ok")])
        result = chatkit_client.create_thread("hello")
        models.Thread.objects.filter(id=result.thread_id).update(status={"type": "closed"})
        response = chatkit_client.request(
            "threads.retry_after_item", thread_id=result.thread_id, item_id=result.items[0].id
        )
        assert response.status == 409
        assert response.json()["error"]["code"] == "thread_closed"


class TestDailyBudget:
    def test_turns_stop_when_the_days_tokens_are_spent(self, chatkit_client, model, settings):
        from agents import Usage

        settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": 100}
        model.set_default_usage(
            Usage(requests=1, input_tokens=60, output_tokens=50, total_tokens=110)
        )
        model.enqueue([assistant_message("expensive")])
        thread_id = chatkit_client.create_thread("first").thread_id  # 110 tokens: over budget
        before = snapshot()
        response = chatkit_client.request(
            "threads.add_user_message", thread_id=thread_id, input=message_input("again")
        )
        assert response.status == 200 and response.is_stream
        events = parse_sse(response.content)
        assert [e.type for e in events] == ["error"]
        assert "allowance" in events[0].message and not events[0].allow_retry
        assert snapshot() == before
        # JSON ops still work, and deleting the thread does not give the tokens back.
        chatkit_client.delete_thread(thread_id)
        again = chatkit_client.request("threads.create", input=message_input("new"))
        assert parse_sse(again.content)[0].type == "error"

    def test_yesterdays_usage_does_not_count(self, chatkit_client, chatkit_user, model, settings):
        settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": 100}
        usage = models.TurnUsage.objects.create(owner=chatkit_user, provider="x", total_tokens=1000)
        models.TurnUsage.objects.filter(pk=usage.pk).update(
            created_at=usage.created_at - timedelta(days=1)
        )
        model.enqueue([assistant_message("fine")])
        assert chatkit_client.create_thread("hi").assistant_text == "fine"


class TestMalformedUploadsAnswerJson:
    """Django refuses these inside its parsers; the client still gets our JSON error."""

    @pytest.fixture
    def logged_in_jwt(self, chatkit_user):
        from django.test import Client

        token = AccessToken.for_user(chatkit_user)
        return Client(headers={"Authorization": f"Bearer {token}"})

    def test_multipart_without_a_boundary(self, logged_in_jwt):
        response = logged_in_jwt.post(
            "/chatkit/api/upload", b"--x\r\n", content_type="multipart/form-data"
        )
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"

    def test_multipart_without_a_boundary_from_a_session(self, chatkit_user):
        # The session's CSRF check reads the form first, so the parser fails there.
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(chatkit_user)
        client.get("/admin/login/")  # sets the csrftoken cookie
        response = client.post(
            "/chatkit/api/upload",
            b"--x\r\n",
            content_type="multipart/form-data",
            headers={"X-CSRFToken": client.cookies["csrftoken"].value},
        )
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"

    def test_too_many_files(self, logged_in_jwt, settings):
        settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
        files = {f"f{n}": SimpleUploadedFile(f"{n}.txt", b"hello") for n in range(3)}
        response = logged_in_jwt.post("/chatkit/api/upload", files)
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"

    def test_writing_to_a_download_url_is_405_json(self, chatkit_user):
        from django.test import Client

        token = AccessToken.for_user(chatkit_user)
        client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {token}"})
        response = client.post("/chatkit/attachments/atc_0123456789abcdef01234567")
        assert response.status_code == 405
        assert response["Content-Type"] == "application/json"
        assert response["Allow"] == "GET, HEAD"

    def test_writing_to_a_signed_download_url_is_405_with_allow(self, client):
        # The signed URL of an image preview, as the browser holds it: no credentials.
        url = f"/chatkit/attachments/atc_1?token={tokens.sign('atc_1', 'download')}"
        response = client.post(url)
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert response["Allow"] == "GET, HEAD"
