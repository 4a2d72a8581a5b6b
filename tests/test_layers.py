"""The reasoning layer (``chatkit_backend.reasoning``: agents, history, titles, picks,
handoffs) knows nothing about HTTP: it imports neither Django's request machinery nor the
protocol layer (the endpoint, the server, request intake, authentication)."""

from __future__ import annotations

import ast

import pytest

from tests.test_package_layout import MODULES, runtime_imports

PROTOCOL_MODULES = (
    "chatkit_backend.views",
    "chatkit_backend.urls",
    "chatkit_backend.server",
    "chatkit_backend.intake",
    "chatkit_backend.auth",
    "chatkit_backend.throttling",
    "chatkit_backend.composer",
    "chatkit_backend.entities.views",
    "chatkit_backend.attachments.views",
)
HTTP_PACKAGES = ("django.http", "django.urls", "django.views", "rest_framework")

REASONING = sorted(name for name in MODULES if name.startswith("chatkit_backend.reasoning"))


def test_the_reasoning_layer_was_read():
    assert "chatkit_backend.reasoning.orchestrator" in REASONING


@pytest.mark.parametrize("name", REASONING)
def test_a_reasoning_module_imports_nothing_of_http(name):
    module = MODULES[name]
    ours = sorted(imported for imported in module.imports if imported.startswith(PROTOCOL_MODULES))
    theirs = sorted(
        source
        for node in runtime_imports(module.tree)
        for source in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
        )
        if source.startswith(HTTP_PACKAGES)
    )
    assert (ours, theirs) == ([], [])
