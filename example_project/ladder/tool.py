"""Step 3, ``tool``: an agent with tools, a widget with a server action, a client tool.

- :func:`get_weather` is a plain function tool; it also streams its own progress update
  (the library announces every tool call as "Using get_weather…" too).
- :func:`show_counter` answers with a widget: a card whose buttons run an action on the
  server. "+1" is a streaming action (``threads.custom_action``: :meth:`ToolServer.action`
  replaces the widget in the stream); "+1 (sync)" a synchronous one
  (``threads.sync_custom_action``: :meth:`ToolServer.sync_action` answers the updated widget).
- :func:`switch_theme` is a client tool: the run stops, the widget calls the page's
  ``onClientTool`` (the example page switches its colour scheme) and sends the result back,
  and the agent continues from there.

The site points ``CHATKIT_BACKEND["AGENT"]`` at :func:`build_agent` and ``SERVER_CLASS`` at
:class:`ToolServer`. With no provider key, the offline demo model calls a tool when a message
names it (``get_weather {"city": "Lima"}``, ``show_counter``, ``switch_theme``).

Run it with ``EXAMPLE_AGENT=tool python manage.py runserver``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from agents import Agent, RunContextWrapper, StopAtTools, function_tool
from chatkit.agents import AgentContext, ClientToolCall
from chatkit.types import (
    Action,
    ProgressUpdateEvent,
    SyncCustomActionResponse,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WidgetItem,
)
from chatkit.widgets import DynamicWidgetRoot, WidgetTemplate

from chatkit_backend.context import RequestContext
from chatkit_backend.server import DjangoChatKitServer

COUNTER_ACTION = "ladder.counter.add"  # the action type of the counter's buttons (below)

# A widget template, as https://widgets.chatkit.studio/ exports them (usually a .widget file).
COUNTER = WidgetTemplate(
    {
        "version": "1.0",
        "name": "Counter",
        "jsonSchema": {"type": "object", "properties": {"count": {"type": "integer"}}},
        "template": """{
  "type": "Card", "size": "sm",
  "children": [
    {"type": "Title", "value": "Count: {{ count }}"},
    {"type": "Text", "value": "Each click runs an action on the server.", "size": "sm"},
    {"type": "Row", "gap": 2, "children": [
      {"type": "Button", "label": "+1",
       "onClickAction": {"type": "ladder.counter.add", "payload": {"count": {{ count }}}}},
      {"type": "Button", "label": "+1 (sync)", "style": "secondary",
       "onClickAction": {"type": "ladder.counter.add", "payload": {"count": {{ count }}},
                         "streaming": false}}
    ]}
  ]
}""",
    }
)
MAX_COUNT = 1_000_000


def counter(count: int) -> DynamicWidgetRoot:
    return COUNTER.build({"count": count})


@function_tool
async def get_weather(ctx: RunContextWrapper[AgentContext], city: str = "Paris") -> str:
    """Report today's weather in a city (demo data).

    Args:
        city: The city's name, e.g. "Lima".
    """
    await ctx.context.stream(ProgressUpdateEvent(icon="globe", text=f"Asking the sky over {city}…"))
    return f"Sunny and 21°C in {city} (demo data)."


@function_tool
async def show_counter(ctx: RunContextWrapper[AgentContext], start: int = 0) -> str:
    """Show the user a counter they can increase with buttons.

    Args:
        start: The number the counter starts at.
    """
    start = max(0, min(int(start), MAX_COUNT))
    await ctx.context.stream_widget(counter(start), copy_text=f"Count: {start}")
    return f"A counter starting at {start} is shown; its buttons work without you."


@function_tool
async def switch_theme(
    ctx: RunContextWrapper[AgentContext], theme: Literal["light", "dark"] = "dark"
) -> str:
    """Switch the page between its light and dark colour scheme.

    Args:
        theme: "light" or "dark".
    """
    # A client tool: the browser runs it (the page's onClientTool) and sends back its result.
    ctx.context.client_tool_call = ClientToolCall(name="switch_theme", arguments={"theme": theme})
    return f"Asked the page to switch to the {theme} theme."


INSTRUCTIONS = (
    "You are the assistant of step 3 of a ChatKit tutorial. Use get_weather for the weather, "
    "show_counter when the user wants a counter, and switch_theme to change the page's theme."
)


def build_agent(context: RequestContext) -> Agent[Any]:
    return Agent(
        name="Toolsmith",
        instructions=INSTRUCTIONS,
        tools=[get_weather, show_counter, switch_theme],
        # The run stops at the client tool: the browser has to answer before the agent goes on.
        tool_use_behavior=StopAtTools(stop_at_tool_names=["switch_theme"]),
    )


def next_count(action: Action[str, Any]) -> int:
    """The counter's next value. The payload comes from the browser: trust nothing in it."""
    payload = action.payload if isinstance(action.payload, dict) else {}
    count = payload.get("count")
    if not isinstance(count, int) or isinstance(count, bool):
        count = 0
    return max(0, min(count, MAX_COUNT - 1)) + 1


def is_counter(sender: WidgetItem | None) -> bool:
    """Whether the action came from a counter (not from some other widget of the thread)."""
    return sender is not None and (sender.copy_text or "").startswith("Count: ")


def counted(sender: WidgetItem, action: Action[str, Any]) -> WidgetItem:
    count = next_count(action)
    return sender.model_copy(update={"widget": counter(count), "copy_text": f"Count: {count}"})


class ToolServer(DjangoChatKitServer):
    """Handles the counter's button in code, streaming and sync; other actions as usual."""

    async def action(  # type: ignore[override]
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if action.type != COUNTER_ACTION or not is_counter(sender):
            async for event in super().action(thread, action, sender, context):
                yield event
            return
        # The server stores a replaced item, so a reload shows the new count.
        yield ThreadItemReplacedEvent(item=counted(sender, action))

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        if action.type != COUNTER_ACTION or not is_counter(sender):
            return await super().sync_action(thread, action, sender, context)
        updated = counted(sender, action)
        # A sync action's answer is not stored by the SDK: keep the new widget ourselves.
        await self.store.save_item(thread.id, updated, context)
        return SyncCustomActionResponse(updated_item=updated)
