"""A secrets scan: a recognisable fake key is configured, turns succeed and fail, the admin is
browsed; the key shows up in no response body, no header and no log record."""

import logging

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-test-LEAKCANARY-0123456789abcdef"
TAIL = KEY[-12:]


def assert_clean(*blobs):
    for blob in blobs:
        text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
        assert KEY not in text and TAIL not in text


def headers_text(headers):
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


def test_the_key_never_leaves_the_server(
    chatkit_client,
    client_factory,
    admin_user,
    settings,
    caplog,
    fake_provider,  # noqa: F811
):
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "AGENT": "chatkit_backend.reasoning.agents.default_agent",
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": KEY,
        "LLM_BASE_URL": fake_provider.base_url,
        "TRACING": False,
    }
    caplog.set_level(logging.DEBUG)
    responses = []

    ok = chatkit_client.create_thread("hello")
    assert ok.errors == [] and ok.assistant_text
    responses.append(ok.response)
    fake_provider.fail_next(401)  # the provider quotes the key back in its error body
    failed = chatkit_client.send(ok.thread_id, "again")
    assert failed.errors and "rejected the API key" in failed.errors[0].message
    responses.append(failed.response)
    for status in (429, 500):
        fake_provider.fail_next(status)
        responses.append(chatkit_client.send(ok.thread_id, "more").response)
    responses.append(chatkit_client.request("items.list", thread_id=ok.thread_id))
    assert fake_provider.requests[0].bearer == KEY  # it was really used

    for response in responses:
        assert_clean(response.content, headers_text(response.headers))

    admin = client_factory()
    admin.force_login(admin_user)
    for url in [
        "/admin/",
        "/admin/chatkit_backend/thread/",
        reverse("admin:chatkit_backend_thread_change", args=[quote(ok.thread_id)]),
        "/admin/chatkit_backend/threaditem/",
        "/admin/chatkit_backend/turnusage/",
    ]:
        page = admin.get(url)
        assert page.status_code == 200, (url, page.status_code)
        assert_clean(page.content, headers_text(page.headers))

    for record in caplog.records:
        assert_clean(record.getMessage(), str(record.args or ""), str(record.exc_info or ""))
        if record.exc_info:
            assert_clean(logging.Formatter().formatException(record.exc_info))
