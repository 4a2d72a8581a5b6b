"""Multi-agent flows: the thread remembers the agent it was handed to, can be sent back to the
root agent, shows handoffs and tool calls as progress, and turns tripped guardrails into
notices.

Each agent answers with a ``ScriptedModel`` of its own, so which model was called says which
agent took the turn.
"""

from __future__ import annotations

import json

import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    RunContextWrapper,
    function_tool,
    input_guardrail,
    output_guardrail,
)
from agents.testing import ScriptedModel, assistant_message, function_call
from asgiref.sync import async_to_sync
from chatkit.agents import AgentContext
from chatkit.types import (
    CustomTask,
    ErrorEvent,
    NoticeEvent,
    ProgressUpdateEvent,
    ThreadItemRemovedEvent,
    WorkflowItem,
)

from chatkit_backend import models
from chatkit_backend.reasoning.handoffs import ACTIVE_AGENT_KEY, RESET_AGENT_ACTION
from chatkit_backend.testing import override_agent
from chatkit_backend.threads import reset_agent
from tests.support.agents import WEATHER_CALLS, tools_agent

pytestmark = pytest.mark.django_db(transaction=True)

RESET = {"type": RESET_AGENT_ACTION, "payload": {}}


class Team:
    """Triage, which hands off to Billing or Refunds; a scripted model for each."""

    def __init__(self) -> None:
        self.triage_model, self.billing_model, self.refunds_model = (
            ScriptedModel(),
            ScriptedModel(),
            ScriptedModel(),
        )
        self.billing = Agent(name="Billing", instructions="Invoices.", model=self.billing_model)
        self.refunds = Agent(name="Refunds", instructions="Refunds.", model=self.refunds_model)
        self.triage = Agent(
            name="Triage",
            instructions="Route the user.",
            model=self.triage_model,
            handoffs=[self.billing, self.refunds],
        )


@pytest.fixture
def team():
    team = Team()
    with override_agent(team.triage):
        yield team


def active_agent(thread_id: str) -> str | None:
    return models.Thread.objects.get(id=thread_id).metadata.get(ACTIVE_AGENT_KEY)


def hand_to_billing(chatkit_client, team: Team):
    team.triage_model.enqueue([function_call("transfer_to_billing", {}, call_id="c1")])
    team.billing_model.enqueue([assistant_message("Billing here: which invoice?")])
    return chatkit_client.create_thread("My invoice is wrong")


def test_after_a_handoff_the_next_turn_starts_at_the_specialist(chatkit_client, team):
    first = hand_to_billing(chatkit_client, team)
    assert first.errors == [] and first.assistant_text == "Billing here: which invoice?"
    progress = [e.text for e in first.events if isinstance(e, ProgressUpdateEvent)]
    assert progress == ["Handing off to Billing…"]
    assert active_agent(first.thread_id) == "Billing"

    team.billing_model.enqueue([assistant_message("Invoice 7 is fixed.")])
    second = chatkit_client.send(first.thread_id, "Invoice 7")
    assert second.assistant_text == "Invoice 7 is fixed."
    assert len(team.triage_model.calls) == 1  # triage was not asked again
    assert "Invoice 7" in json.dumps(team.billing_model.calls[-1].input)
    # The client never sees which agent is active: metadata stays on the server.
    assert ACTIVE_AGENT_KEY not in first.response.content.decode()
    fetched = chatkit_client.request("threads.get_by_id", thread_id=first.thread_id)
    assert fetched.status == 200 and ACTIVE_AGENT_KEY not in fetched.content.decode()


def test_a_reset_action_sends_the_thread_back_to_triage(chatkit_client, team):
    first = hand_to_billing(chatkit_client, team)
    reset = chatkit_client.custom_action(first.thread_id, RESET)
    notices = [e for e in reset.events if isinstance(e, NoticeEvent)]
    assert [(n.level, n.message) for n in notices] == [("info", "You are talking to Triage again.")]
    assert reset.errors == [] and active_agent(first.thread_id) is None
    assert len(team.billing_model.calls) == 1  # the reset asked no model

    team.triage_model.enqueue([assistant_message("Triage: how can I help?")])
    after = chatkit_client.send(first.thread_id, "Something else")
    assert after.assistant_text == "Triage: how can I help?"
    assert len(team.triage_model.calls) == 2 and len(team.billing_model.calls) == 1


def test_a_sync_reset_works_too(chatkit_client, team):
    first = hand_to_billing(chatkit_client, team)
    response = chatkit_client.sync_custom_action(first.thread_id, RESET)
    assert response.updated_item is None
    assert active_agent(first.thread_id) is None


def test_server_code_can_reset_a_thread(chatkit_client, team):
    first = hand_to_billing(chatkit_client, team)
    assert async_to_sync(reset_agent)(first.thread_id) is True
    assert active_agent(first.thread_id) is None
    assert async_to_sync(reset_agent)(first.thread_id) is False


def test_a_handoff_back_to_the_root_forgets_the_specialist(chatkit_client, team):
    team.billing.handoffs = [team.triage]
    first = hand_to_billing(chatkit_client, team)
    team.billing_model.enqueue([function_call("transfer_to_triage", {}, call_id="c2")])
    team.triage_model.enqueue([assistant_message("Back at triage.")])
    second = chatkit_client.send(first.thread_id, "Not a billing question, actually")
    assert second.assistant_text == "Back at triage."
    assert active_agent(first.thread_id) is None


def test_an_agent_no_longer_in_the_graph_falls_back_to_the_root(chatkit_client, team):
    first = hand_to_billing(chatkit_client, team)
    team.triage.handoffs = [team.refunds]  # a deploy removed Billing
    team.triage_model.enqueue([assistant_message("Triage again.")])
    assert chatkit_client.send(first.thread_id, "Hello?").assistant_text == "Triage again."


def test_tool_calls_show_as_progress_updates(chatkit_client):
    model = ScriptedModel()
    model.extend(
        [
            [function_call("get_weather", {"city": "Lima"}, call_id="w1")],
            [assistant_message("Mild in Lima.")],
        ]
    )
    WEATHER_CALLS.clear()
    with override_agent(tools_agent(model)):
        result = chatkit_client.create_thread("Weather in Lima?")
    progress = [(e.icon, e.text) for e in result.events if isinstance(e, ProgressUpdateEvent)]
    assert progress == [("bolt", "Using get_weather…")]
    # Progress is not stored: the thread holds the question and the answer only.
    stored = chatkit_client.list_items(result.thread_id, order="asc").data
    assert [item.type for item in stored] == ["user_message", "assistant_message"]


# -- guardrails ------------------------------------------------------------------------------


@input_guardrail(run_in_parallel=False)
def billing_only(context, agent, input) -> GuardrailFunctionOutput:
    text = json.dumps(input[-1] if isinstance(input, list) else input)  # the latest message
    return GuardrailFunctionOutput(
        output_info={"message": "I can only help with billing questions."},
        tripwire_triggered="poem" in text,
    )


@output_guardrail
def no_secrets(context, agent, output) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="secret" in str(output))


def guarded(model: ScriptedModel) -> Agent:
    return Agent(
        name="Guarded",
        instructions="Billing only.",
        model=model,
        input_guardrails=[billing_only],
        output_guardrails=[no_secrets],
    )


def test_an_input_guardrail_trip_is_a_notice_and_the_thread_stays_usable(chatkit_client):
    model = ScriptedModel()
    with override_agent(guarded(model)):
        tripped = chatkit_client.create_thread("Write me a poem")
        notices = [e for e in tripped.events if isinstance(e, NoticeEvent)]
        assert [(n.level, n.title, n.message) for n in notices] == [
            (
                "warning",
                "The assistant cannot help with this message.",
                "I can only help with billing questions.",
            )
        ]
        assert tripped.errors == [] and tripped.assistant_messages == []
        assert model.calls == ()  # the model was never asked

        model.enqueue([assistant_message("Your invoice is paid.")])
        after = chatkit_client.send(tripped.thread_id, "Is my invoice paid?")
    assert after.errors == [] and after.assistant_text == "Your invoice is paid."
    # The model knows the earlier message went unanswered, and why.
    assert "input guardrail billing_only stopped" in json.dumps(model.calls[0].input)


def test_an_output_guardrail_trip_withdraws_the_answer(chatkit_client):
    model = ScriptedModel()
    model.enqueue([assistant_message("The secret is 42.")])
    with override_agent(guarded(model)):
        tripped = chatkit_client.create_thread("Tell me the code")
        model.enqueue([assistant_message("Happy to help with billing.")])
        after = chatkit_client.send(tripped.thread_id, "Billing then")
    notices = [e for e in tripped.events if isinstance(e, NoticeEvent)]
    assert [(n.title, n.message) for n in notices] == [
        (
            "The assistant's answer was withheld.",
            "It did not pass the `no_secrets` check. Try rephrasing it.",
        )
    ]
    assert not any(isinstance(e, ErrorEvent) for e in tripped.events)
    assert any(isinstance(e, ThreadItemRemovedEvent) for e in tripped.events)
    stored = json.dumps(
        [i.model_dump(mode="json") for i in chatkit_client.list_items(tripped.thread_id).data]
    )
    assert "The secret is 42" not in stored
    assert after.assistant_text == "Happy to help with billing."


@function_tool
async def research(ctx: RunContextWrapper[AgentContext]) -> str:
    """Show a workflow task while researching."""
    await ctx.context.add_workflow_task(CustomTask(title="Reading the archive"))
    return "Found it."


def test_a_tools_own_workflow_tasks_stream_and_are_kept(chatkit_client):
    model = ScriptedModel()
    model.extend([[function_call("research", {}, call_id="r1")], [assistant_message("Done.")]])
    agent = Agent(name="Researcher", instructions="Research.", model=model, tools=[research])
    with override_agent(agent):
        result = chatkit_client.create_thread("Research this")
    # The SDK times the workflow while it streams: it must keep its own (naive) timestamps.
    assert result.errors == [] and result.assistant_text == "Done."
    [workflow] = [item for item in result.items if isinstance(item, WorkflowItem)]
    assert [task.title for task in workflow.workflow.tasks] == ["Reading the archive"]
    assert workflow.workflow.summary is not None
