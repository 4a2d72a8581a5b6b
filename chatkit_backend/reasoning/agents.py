"""Resolving the agent that answers a turn from ``CHATKIT_BACKEND["AGENT"]``."""

from __future__ import annotations

import inspect
from typing import Any

from agents import Agent

from ..context import RequestContext

default_agent = Agent(
    name="Assistant",
    instructions="You are a helpful assistant. Answer clearly and concisely.",
)
"""The agent used when a site has not set ``CHATKIT_BACKEND["AGENT"]``."""


async def resolve_agent(target: Any, context: RequestContext) -> Agent[Any]:
    """The agent for this request: ``target`` (``conf.imported("AGENT")``) if it is an Agent,
    or what it returns for ``context`` if it is a callable."""
    if isinstance(target, Agent):
        return target
    if callable(target):
        agent = target(context)
        if inspect.isawaitable(agent):
            agent = await agent
        if isinstance(agent, Agent):
            return agent
        raise TypeError(f"CHATKIT_BACKEND['AGENT'] returned {type(agent).__name__}, not an Agent")
    raise TypeError("CHATKIT_BACKEND['AGENT'] must be an Agent or a callable returning one")
