"""Which agent a thread is talking to: after a handoff, the next turn starts there.

The Agents SDK starts every run at the agent it is given. Without memory, a triage agent that
handed the user to a specialist would take the next message again, and hand off again (or
answer it itself). So the thread keeps the name of the agent that ended its last run, in its
server-side metadata (never sent to the client) under :data:`ACTIVE_AGENT_KEY`, and the next
turn starts at the agent of that name, found among the agents the root agent hands off to.
Resetting the thread (:func:`forget_active_agent`) sends the next turn to the root again.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from agents import Agent
from chatkit.types import ThreadMetadata

ACTIVE_AGENT_KEY = "chatkit_backend.active_agent"
"""The key of ``thread.metadata`` holding the name of the agent the thread talks to."""

RESET_AGENT_ACTION = "chatkit_backend.reset_agent"
"""The custom action type (``threads.custom_action`` or ``threads.sync_custom_action``) that
sends a thread back to the root agent."""


def reachable_agents(root: Agent[Any]) -> dict[str, Agent[Any]]:
    """Every agent ``root`` can hand off to, directly or through others, by name (first wins).

    Handoffs given as agents (``handoffs=[billing, refunds]``) are followed. A ``handoff()``
    object does not expose its agent through public API; override
    ``Orchestrator.starting_agent`` to find such agents (see the README).
    """
    found: dict[str, Agent[Any]] = {}
    queue: deque[Agent[Any]] = deque([root])
    while queue:
        agent = queue.popleft()
        if agent.name in found:
            continue
        found[agent.name] = agent
        queue.extend(target for target in agent.handoffs if isinstance(target, Agent))
    return found


def active_agent_name(thread: ThreadMetadata) -> str | None:
    name = thread.metadata.get(ACTIVE_AGENT_KEY)
    return name if isinstance(name, str) else None


def starting_agent(root: Agent[Any], thread: ThreadMetadata) -> Agent[Any]:
    """The agent the thread's next turn starts at: the one it last talked to, else ``root``."""
    name = active_agent_name(thread)
    if name is None or name == root.name:
        return root
    return reachable_agents(root).get(name, root)


def remember_active_agent(thread: ThreadMetadata, root: Agent[Any], last: Agent[Any]) -> None:
    """Keep ``last`` (the agent that ended the run) as the thread's agent for the next turn.

    The server saves the thread when it changed. ``thread.metadata`` gets a new dict rather
    than a change in place, so nothing holding the old one sees it change.
    """
    if last.name == root.name:
        forget_active_agent(thread)
    elif active_agent_name(thread) != last.name:
        thread.metadata = {**thread.metadata, ACTIVE_AGENT_KEY: last.name}


def forget_active_agent(thread: ThreadMetadata) -> bool:
    """Send the thread's next turn to the root agent; whether it was elsewhere."""
    if ACTIVE_AGENT_KEY not in thread.metadata:
        return False
    thread.metadata = {k: v for k, v in thread.metadata.items() if k != ACTIVE_AGENT_KEY}
    return True
