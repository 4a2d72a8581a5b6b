"""The lean path (``with_chatkit``): ChatKit's endpoints keep every security property with
the short middleware chain, and every other page keeps the site's full stack.

The security suites (isolation, JWT, CSRF, CORS, origins, rate limits, size caps, fuzz) run
on the lean path already: the live server serves ``with_chatkit``, and the suite's Django
test clients route ChatKit's paths through the lean chain (``tests/conftest.py``). These
tests pin what the lean chain must do on its own.
"""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from django.test import Client
from django.test.client import ClientHandler as FullStackHandler  # before conftest's routing

from chatkit_backend.asgi import LEAN_MIDDLEWARE, ChatKitRouter, skipped_middleware, with_chatkit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("CHATKIT_TEST_STACK") == "full", reason="the suite runs on the full stack"
    ),
]

LIST = '{"type": "threads.list", "params": {}}'
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def full_stack_client(**defaults) -> Client:
    client = Client(**defaults)
    client.handler = FullStackHandler(False)
    return client


def comparable(headers) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def test_chatkit_paths_take_the_lean_chain_and_other_pages_the_full_stack(client):
    api = client.post("/chatkit/api", data=LIST, content_type="application/json")
    assert api.status_code == 401
    # The messages framework is one of what the lean path skips.
    assert not hasattr(api.wsgi_request, "_messages")
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert hasattr(page.wsgi_request, "_messages")
    assert "csrftoken" in page.cookies  # CsrfViewMiddleware ran


def test_what_the_lean_path_skips_is_listed(settings):
    assert skipped_middleware() == [
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]
    assert set(settings.MIDDLEWARE) - set(skipped_middleware()) <= set(LEAN_MIDDLEWARE)


@pytest.mark.parametrize("origin", ["https://frontend.example", "https://evil.example"])
def test_cors_answers_are_the_full_stacks(client, origin):
    for method, kwargs in [
        ("options", {"headers": {"Origin": origin, **PREFLIGHT}}),
        ("post", {"data": LIST, "content_type": "application/json", "headers": {"Origin": origin}}),
    ]:
        lean = getattr(client, method)("/chatkit/api", **kwargs)
        full = getattr(full_stack_client(), method)("/chatkit/api", **kwargs)
        assert (lean.status_code, comparable(lean.headers)) == (
            full.status_code,
            comparable(full.headers),
        )
    allowed = lean.headers.get("Access-Control-Allow-Origin")
    assert allowed == (origin if origin == "https://frontend.example" else None)


def test_security_headers_are_the_full_stacks(client, chatkit_user, settings):
    client.force_login(chatkit_user)
    lean = client.post("/chatkit/api", data=LIST, content_type="application/json")
    full_client = full_stack_client()
    full_client.force_login(chatkit_user)
    full = full_client.post("/chatkit/api", data=LIST, content_type="application/json")
    assert lean.status_code == full.status_code == 200
    assert comparable(lean.headers) == comparable(full.headers)
    assert lean.headers["X-Content-Type-Options"] == "nosniff"
    assert lean.headers["Referrer-Policy"] == "same-origin"


def test_a_host_not_allowed_is_400_even_without_common_middleware(settings, chatkit_user):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.MIDDLEWARE = [
        path for path in settings.MIDDLEWARE if path != "django.middleware.common.CommonMiddleware"
    ]
    client = Client()  # a new client builds its chain from the changed MIDDLEWARE
    client.force_login(chatkit_user)
    refused = client.post(
        "/chatkit/api", data=LIST, content_type="application/json", headers={"Host": "evil.example"}
    )
    assert refused.status_code == 400
    allowed = client.post("/chatkit/api", data=LIST, content_type="application/json")
    assert allowed.status_code == 200


def test_over_http_a_host_not_allowed_is_400(live_asgi, chatkit_user, settings):
    http = live_asgi.http(chatkit_user)
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    ok = http.post("/chatkit/api", content=LIST, headers={"Content-Type": "application/json"})
    assert ok.status_code == 200
    refused = http.post(
        "/chatkit/api",
        content=LIST,
        headers={"Content-Type": "application/json", "Host": "evil.example"},
    )
    assert refused.status_code == 400
    assert b"threads" not in refused.content


def test_over_http_a_session_needs_its_csrf_token(live_asgi, chatkit_user, settings):
    """The browser's way: the session cookie and the CSRF token from a page of the site."""
    chatkit_user.is_staff = True  # to log in through the admin's form
    chatkit_user.save()
    http = live_asgi.http()
    login = http.get("/admin/login/")  # the full stack: it sets the csrftoken cookie
    token = login.cookies["csrftoken"]
    form = {"username": "chatkit-user", "password": "pw", "csrfmiddlewaretoken": token}
    settings.ALLOWED_HOSTS = ["*"]
    logged_in = http.post("/admin/login/", data=form, headers={"Referer": live_asgi.url})
    assert logged_in.status_code in (200, 302) and "sessionid" in http.cookies
    json = {"Content-Type": "application/json"}
    assert http.post("/chatkit/api", content=LIST, headers=json).status_code == 403
    accepted = http.post(
        "/chatkit/api", content=LIST, headers={**json, "X-CSRFToken": http.cookies["csrftoken"]}
    )
    assert accepted.status_code == 200


def test_over_http_an_anonymous_visitor_gets_a_session(live_asgi, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ALLOW_ANONYMOUS": True}
    http = live_asgi.http()
    http.get("/admin/login/")
    answer = http.post(
        "/chatkit/api",
        content=LIST,
        headers={"Content-Type": "application/json", "X-CSRFToken": http.cookies["csrftoken"]},
    )
    assert answer.status_code == 200
    assert "sessionid" in answer.cookies  # the lean session middleware saved and set it


def test_over_http_cors_preflight(live_asgi):
    http = live_asgi.http()
    allowed = http.options(
        "/chatkit/api", headers={"Origin": "https://frontend.example", **PREFLIGHT}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://frontend.example"
    refused = http.options("/chatkit/api", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert "access-control-allow-origin" not in refused.headers


def test_other_scopes_and_paths_go_to_the_site():
    seen = []

    async def site(scope, receive, send):
        seen.append(scope["type"])

    router = with_chatkit(site, prefix="/chatkit/")
    assert isinstance(router, ChatKitRouter)

    async def run():
        for scope in [
            {"type": "lifespan"},
            {"type": "websocket", "path": "/chatkit/ws"},
            {"type": "http", "path": "/admin/"},
        ]:
            await router(scope, None, None)

    asyncio.run(run())
    assert seen == ["lifespan", "websocket", "http"]
    assert router.routes({"type": "http", "path": "/chatkit/api"})
    assert router.routes({"type": "http", "path": "/site/chatkit/api", "root_path": "/site"})
    assert not router.routes({"type": "http", "path": "/chatkitx"})


def test_the_prefix_is_found_in_the_url_conf():
    router = with_chatkit(None)
    assert router.routes({"type": "http", "path": "/chatkit/api/upload"})
    assert router.prefix == "/chatkit/"


def test_httpx_is_what_the_live_server_clients_are(live_asgi):
    assert isinstance(live_asgi.http(), httpx.Client)


def test_a_site_without_chatkit_urls_routes_nothing_lean(settings):
    settings.ROOT_URLCONF = "tests.support.no_chatkit_urls"
    router = with_chatkit(None)
    assert not router.routes({"type": "http", "path": "/chatkit/api"})
