"""Pytest fixtures for testing a site's ChatKit backend (needs pytest-django).

Load them with ``pytest_plugins = ["chatkit_backend.testing.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .agents import scripted_agent
from .client import AsyncChatKitClient, ChatKitClient
from .live_server import LiveASGIServer, LiveServer, close_server_connections


def _in_test_transaction(request: pytest.FixtureRequest) -> bool:
    """Whether the test runs inside a transaction of its own (pytest-django's ``db``, or the
    ``django_db`` mark without ``transaction=True``)."""
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names:
        return False
    marker = request.node.get_closest_marker("django_db")
    if marker is not None:
        return not marker.kwargs.get("transaction", marker.args[0] if marker.args else False)
    return "db" in names


@pytest.fixture(autouse=True)
def _chatkit_hops_see_the_test_transaction(request: pytest.FixtureRequest) -> Iterator[None]:
    """The store's database work runs on a pool of threads, each with its own connection;
    a test inside a transaction has rows only its own connection sees. For such a test the
    work runs on the test's thread, as Django's test client runs a view."""
    if not _in_test_transaction(request):
        yield
        return
    from ..connections import hops_on_request_thread

    with hops_on_request_thread():
        yield


def _creates_the_test_database(fixturedef: Any) -> bool:
    # pytest-django's own fixture: a site that overrides it may point the tests at a database
    # that others use (pytest-django documents the recipe), whose sessions are not ours to end.
    return getattr(fixturedef.func, "__module__", "") == "pytest_django.fixtures"


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Any:
    result = yield
    if fixturedef.argname == "django_db_setup" and _creates_the_test_database(fixturedef):
        # Added after the fixture's own teardown, so it runs first: nothing is connected to
        # the test database when it is dropped, though a site's test settings keep
        # connections (CONN_MAX_AGE) on the store's pool threads or asgiref's.
        blocker = request.getfixturevalue("django_db_blocker")

        def let_go() -> None:
            with blocker.unblock():
                close_server_connections()

        fixturedef.addfinalizer(let_go)
    return result


@pytest.fixture
def chatkit_user(django_user_model: Any) -> Any:
    """A user who owns the threads the client fixtures create."""
    return django_user_model.objects.create_user(username="chatkit-user", password="pw")


@pytest.fixture
def chatkit_client(client: Any, chatkit_user: Any) -> ChatKitClient:
    """A protocol client logged in as ``chatkit_user`` (Django test client, no server)."""
    client.force_login(chatkit_user)
    return ChatKitClient(client)


@pytest.fixture
def async_chatkit_client(async_client: Any, chatkit_user: Any) -> AsyncChatKitClient:
    async_client.force_login(chatkit_user)
    return AsyncChatKitClient(async_client)


@pytest.fixture
def scripted_model(settings: Any) -> Any:
    """A ``ScriptedModel`` answering for the site's configured agent during the test.

    Enqueue steps with ``scripted_model.enqueue(...)``; inspect ``scripted_model.calls``. The
    agent is set through pytest-django's ``settings`` fixture, so other changes a test makes
    to ``settings.CHATKIT_BACKEND`` keep it, and all of them are undone together.
    """
    from agents.testing import ScriptedModel

    model = ScriptedModel()
    settings.CHATKIT_BACKEND = {
        **getattr(settings, "CHATKIT_BACKEND", {}),
        "AGENT": scripted_agent(model),
    }
    return model


@pytest.fixture(scope="session")
def live_asgi_server(django_db_setup: Any) -> Iterator[LiveASGIServer]:
    """One live ASGI server for the test session (see ``live_asgi``)."""
    # After django_db_setup: the server's connections must open the test database. What they
    # leave open is ended before the test database is dropped (pytest_fixture_setup above).
    server = LiveASGIServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_asgi(live_asgi_server: LiveASGIServer, transactional_db: Any) -> Iterator[LiveServer]:
    """A real ASGI server (uvicorn, in a thread) serving the site, and clients for it.

    Use it where Django's test client cannot go: reading a stream event by event, dropping
    the connection mid-answer, concurrent requests. ``live_asgi.chatkit(user)`` is a
    ``ChatKitClient`` over HTTP with a bearer token; ``live_asgi.http(user)`` an
    ``httpx.Client``; ``live_asgi.url`` the server's base URL. The database is transactional
    (the server's threads only see committed rows): mark such tests
    ``@pytest.mark.django_db(transaction=True)``.
    """
    live = LiveServer(live_asgi_server.url)
    yield live
    live.close()
