"""The import paths and names users depend on (the README names them) stay where they are."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.module_loading import import_string

import chatkit_backend.testing

PUBLIC = [
    "chatkit_backend.server.DjangoChatKitServer",
    "chatkit_backend.store.DjangoStore",
    "chatkit_backend.conf.conf",
    "chatkit_backend.conf.SETTINGS",
    "chatkit_backend.signals.thread_changed",
    "chatkit_backend.threads.append_item",
    "chatkit_backend.threads.append_assistant_message",
    "chatkit_backend.access.AccessPolicy",
    "chatkit_backend.context.RequestContext",
    "chatkit_backend.models.Thread",
    "chatkit_backend.reasoning.agents.default_agent",
    "chatkit_backend.reasoning.history.HistoryConverter",
    "chatkit_backend.reasoning.orchestrator.Orchestrator",
    "chatkit_backend.providers.create_model",
    "chatkit_backend.console.PERMISSION",
    "chatkit_backend.testing.pytest_plugin.live_asgi",
    "chatkit_backend.routing.websocket_urlpatterns",
    "chatkit_backend.live.lifespan.chatkit_lifespan",
    "chatkit_backend.threads.run_turn",
]


@pytest.mark.parametrize("path", PUBLIC)
def test_public_names_import(path):
    assert import_string(path) is not None


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # The defaults of AGENT and HISTORY_CONVERTER before the reasoning layer had its own
        # package: sites that copied them into their settings keep working.
        (
            "chatkit_backend.agents.default_agent",
            "chatkit_backend.reasoning.agents.default_agent",
        ),
        (
            "chatkit_backend.history.HistoryConverter",
            "chatkit_backend.reasoning.history.HistoryConverter",
        ),
    ],
)
def test_paths_the_readme_named_before_still_work(old, new):
    assert import_string(old) is import_string(new)


def test_everything_testing_exports_imports():
    for name in chatkit_backend.testing.__all__:
        assert getattr(chatkit_backend.testing, name) is not None


@pytest.mark.parametrize("name", ["api", "upload"])
def test_url_names_resolve(name):
    assert reverse(f"chatkit_backend:{name}").startswith("/chatkit/api")


@pytest.mark.parametrize("name", ["upload_to", "attachment"])
def test_attachment_url_names_resolve(name):
    assert reverse(f"chatkit_backend:{name}", args=["atc_1"]).endswith("/atc_1")
