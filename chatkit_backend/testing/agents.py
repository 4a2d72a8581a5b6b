"""Pointing ``CHATKIT_BACKEND["AGENT"]`` at a test agent for the length of a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agents import Agent
from agents.models.interface import Model
from django.conf import settings
from django.test import override_settings

from ..conf import conf


@contextmanager
def override_agent(agent: Any, **extra_settings: Any) -> Iterator[Any]:
    """Answer every turn with ``agent`` (an Agent, a callable or a dotted path) meanwhile."""
    merged = {**getattr(settings, "CHATKIT_BACKEND", {}), "AGENT": agent, **extra_settings}
    with override_settings(CHATKIT_BACKEND=merged):
        yield agent


def scripted_agent(model: Model, agent: Agent[Any] | None = None) -> Agent[Any]:
    """The site's configured agent (or ``agent``), answering with ``model``.

    Its instructions and tools stay the same: tests exercise the site's real agent with a
    scripted model in place of the provider. A site whose ``AGENT`` is a callable of the
    request context gets the callable wrapped, so it still sees each request.
    """
    base = agent if agent is not None else conf.imported("AGENT")
    if isinstance(base, Agent):
        return base.clone(model=model)

    async def build(context: Any) -> Agent[Any]:
        import inspect

        built = base(context)
        if inspect.isawaitable(built):
            built = await built
        return built.clone(model=model)

    return build  # type: ignore[return-value]
