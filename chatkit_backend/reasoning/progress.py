"""Handoffs and tool calls, shown in the widget as progress updates while they run.

``stream_agent_response`` streams text, reasoning and widgets, but a function tool that takes
ten seconds, or a handoff to another agent, shows nothing at all. These run hooks send a
``progress_update`` event for each ("Using get_weather…", "Handing off to Billing…"), which
the widget shows until the next item arrives. Progress updates are not stored: they neither
clutter the thread nor reach the model on later turns.
"""

from __future__ import annotations

from typing import Any

from agents import Agent, RunContextWrapper, RunHooks
from agents.tool import Tool
from chatkit.agents import AgentContext
from chatkit.types import ProgressUpdateEvent


class ProgressUpdates(RunHooks[AgentContext]):
    """Run hooks that announce tool calls and handoffs as progress updates.

    Override :meth:`tool_update` or :meth:`handoff_update` to word them differently (or to
    return ``None`` and show nothing); return other hooks from ``Orchestrator.run_hooks()``
    to do something else entirely, such as adding workflow tasks.
    """

    def tool_update(self, agent: Agent[Any], tool: Tool) -> ProgressUpdateEvent | None:
        return ProgressUpdateEvent(icon="bolt", text=f"Using {tool.name}…")

    def handoff_update(
        self, from_agent: Agent[Any], to_agent: Agent[Any]
    ) -> ProgressUpdateEvent | None:
        return ProgressUpdateEvent(icon="agent", text=f"Handing off to {to_agent.name}…")

    async def on_tool_start(
        self, context: RunContextWrapper[AgentContext], agent: Agent[Any], tool: Tool
    ) -> None:
        update = self.tool_update(agent, tool)
        if update is not None:
            await context.context.stream(update)

    async def on_handoff(
        self,
        context: RunContextWrapper[AgentContext],
        from_agent: Agent[Any],
        to_agent: Agent[Any],
    ) -> None:
        update = self.handoff_update(from_agent, to_agent)
        if update is not None:
            await context.context.stream(update)
