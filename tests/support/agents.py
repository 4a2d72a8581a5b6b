"""Agents and tools the protocol tests answer with (their model is always scripted)."""

from __future__ import annotations

from datetime import datetime

from agents import Agent, ModelSettings, RunContextWrapper, StopAtTools, function_tool
from chatkit.agents import AgentContext, ClientToolCall
from chatkit.types import (
    StructuredInputFreeform,
    StructuredInputItem,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
)
from chatkit.widgets import Button, Card, Text

from chatkit_backend.reasoning.orchestrator import Orchestrator
from chatkit_backend.server import DjangoChatKitServer

WEATHER_CALLS: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """Report the weather in a city."""
    WEATHER_CALLS.append(city)
    return f"Sunny and 21°C in {city}"


@function_tool
async def read_selection(ctx: RunContextWrapper[AgentContext]) -> None:
    """Ask the browser for the text the user selected."""
    ctx.context.client_tool_call = ClientToolCall(name="read_selection", arguments={"max": 100})


@function_tool
async def show_choice(ctx: RunContextWrapper[AgentContext]) -> str:
    """Show the user a card with a button."""
    await ctx.context.stream_widget(
        Card(
            children=[
                Text(id="question", value="Proceed?"),
                Button(label="Yes", onClickAction={"type": "choose", "payload": {"answer": "yes"}}),
            ]
        ),
        copy_text="Proceed?",
    )
    return "The card is shown."


@function_tool
async def ask_details(ctx: RunContextWrapper[AgentContext]) -> str:
    """Ask the user a structured question."""
    thread = ctx.context.thread
    await ctx.context.stream(
        ThreadItemDoneEvent(
            item=StructuredInputItem(
                id=ctx.context.generate_id("message"),
                thread_id=thread.id,
                created_at=datetime.now(),
                inputs=[StructuredInputFreeform(id="color", question="Favourite colour?")],
            )
        )
    )
    return "Asked."


def tools_agent(model) -> Agent:
    return Agent(
        name="Tester",
        instructions="Test agent.",
        model=model,
        tools=[get_weather, read_selection, show_choice, ask_details],
        tool_use_behavior=StopAtTools(stop_at_tool_names=["read_selection", "ask_details"]),
    )


class ActionServer(DjangoChatKitServer):
    """A site's server subclass that handles a sync widget action in code."""

    async def sync_action(self, thread, action, sender, context):
        widget = sender.widget.model_copy(deep=True)
        widget.children[0].value = f"You chose {action.payload['answer']}"
        return SyncCustomActionResponse(updated_item=sender.model_copy(update={"widget": widget}))


class SteadyOrchestrator(Orchestrator):
    """The README's orchestrator example: every run at a low temperature."""

    def run_config(self, provider):
        config = super().run_config(provider)
        config.model_settings = ModelSettings(temperature=0.2)
        return config


class SteadyServer(DjangoChatKitServer):
    orchestrator_class = SteadyOrchestrator
