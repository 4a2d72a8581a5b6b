import os

import pytest
from agents.testing import ScriptedModel

from chatkit_backend.testing import ChatKitClient
from tests.support.browser import browser_context, chromium  # noqa: F401  (headless Chromium)
from tests.support.live_site import live_site, live_site_server  # noqa: F401  (HTTP + socket)
from tests.support.turn_streams import slow_provider  # noqa: F401  (a slow loopback provider)


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="someone-else", password="pw")


@pytest.fixture
def other_client(client_factory, other_user):
    client = client_factory()
    client.force_login(other_user)
    return ChatKitClient(client)


@pytest.fixture
def client_factory():
    from django.test import Client

    return Client


@pytest.fixture
def model(scripted_model: ScriptedModel) -> ScriptedModel:
    return scripted_model


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate limit counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded files go to a directory of the test's own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def _lean_path(monkeypatch):
    """Every Django test client of the suite sends ChatKit's endpoints down the lean path
    (``with_chatkit``), the one the README tells a site to deploy; the live server serves it
    too. ``CHATKIT_TEST_STACK=full`` runs the in-process tests on the full middleware stack."""
    if os.environ.get("CHATKIT_TEST_STACK", "lean") == "lean":
        import django.test.client

        from chatkit_backend.testing.lean_client import RoutingClientHandler

        monkeypatch.setattr(django.test.client, "ClientHandler", RoutingClientHandler)
