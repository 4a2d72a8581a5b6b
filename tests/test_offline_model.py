"""The offline demo model: what a fresh install answers with, and how it calls tools."""

from __future__ import annotations

import pytest
from agents import Agent, ModelSettings, function_tool
from agents.models.interface import ModelTracing
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from chatkit_backend import models
from chatkit_backend.providers import create_model, resolve_provider
from chatkit_backend.providers.offline import HOW_TO_CONFIGURE, LABEL, OfflineModel
from chatkit_backend.testing import override_agent

pytestmark = pytest.mark.django_db(transaction=True)

STREAM_EVENT: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)

weather_calls: list[str] = []


@function_tool
def get_weather(city: str = "Paris") -> str:
    """Tell the weather in a city."""
    weather_calls.append(city)
    return f"Sunny and 21 degrees in {city}"


@pytest.fixture(autouse=True)
def offline(settings):
    """The default agent, answered by the offline model (whatever an earlier test left)."""
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "AGENT": "chatkit_backend.reasoning.agents.default_agent",
        "LLM_PROVIDER": "offline",
    }


@pytest.fixture
def tool_agent():
    weather_calls.clear()
    agent = Agent(name="Weather", instructions="Answer about the weather.", tools=[get_weather])
    with override_agent(agent):
        yield agent


async def collect(model: OfflineModel, input, tools=()):
    return [
        event
        async for event in model.stream_response(
            None, input, ModelSettings(), list(tools), None, [], ModelTracing.DISABLED
        )
    ]


# -- the model on its own -------------------------------------------------------------------


async def test_stream_is_a_valid_responses_stream_with_several_deltas():
    events = await collect(OfflineModel(), "Hello there")
    for event in events:  # what a Responses API client would parse
        STREAM_EVENT.validate_python(event.model_dump())
    types = [event.type for event in events]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    assert types.count("response.output_text.delta") >= 5
    text = next(event.text for event in events if event.type == "response.output_text.done")
    assert text == "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text.startswith(LABEL)
    assert HOW_TO_CONFIGURE in text
    assert 'You said: "Hello there"' in text
    usage = events[-1].response.usage
    assert usage.input_tokens == 2
    assert usage.output_tokens > 10
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


async def test_get_response_answers_without_streaming():
    response = await OfflineModel().get_response(
        None, "Hi", ModelSettings(), [], None, [], ModelTracing.DISABLED
    )
    assert response.usage.requests == 1
    assert response.usage.output_tokens > 0
    [message] = response.output
    assert message.content[0].text.startswith(LABEL)


async def test_mentioning_a_tool_plans_a_call_with_json_arguments():
    events = await collect(
        OfflineModel(), 'Use get_weather please {"city": "Oslo"}', tools=[get_weather]
    )
    [call] = [e.item for e in events if e.type == "response.output_item.done"]
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert call.arguments == '{"city": "Oslo"}'


@function_tool
def translate(input: str, style: str = "plain") -> str:
    """Translate a text (a stand-in for an agent used as a tool, whose ``input`` is required)."""
    return input


async def test_a_required_text_parameter_gets_the_message_when_no_json_is_given():
    events = await collect(OfflineModel(), "translate good morning", tools=[translate])
    [call] = [e.item for e in events if e.type == "response.output_item.done"]
    # Only the required string parameter is filled: the optional one keeps its default.
    assert (call.name, call.arguments) == ("translate", '{"input": "translate good morning"}')


async def test_delay_paces_the_deltas():
    model = OfflineModel(delay=0.001)
    events = await collect(model, "Hi")
    assert any(event.type == "response.output_text.delta" for event in events)


def test_offline_is_the_default_when_nothing_is_configured(settings, monkeypatch):
    for name in ("LLM_PROVIDER", "LLM_MODEL", "LLM_BASE_URL", "OPENAI_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings.CHATKIT_BACKEND = {}
    assert resolve_provider().provider == "offline"
    model = create_model()
    assert isinstance(model, OfflineModel)
    assert model.name == "offline-demo"


# -- through the protocol -------------------------------------------------------------------


def test_answers_with_the_label_and_how_to_configure(chatkit_client):
    result = chatkit_client.create_thread("What can you do?")
    assert result.errors == []
    text = result.assistant_text
    assert text.startswith(LABEL)
    assert "OPENAI_API_KEY" in text
    assert "GEMINI_API_KEY" in text
    assert "LLM_PROVIDER=openai_compatible" in text
    assert 'You said: "What can you do?"' in text
    deltas = result.text_deltas
    assert len(deltas) >= 5
    assert "".join(deltas) == text


def test_turns_keep_distinct_answers_and_record_usage(chatkit_client):
    first = chatkit_client.create_thread("First question")
    second = chatkit_client.send(first.thread_id, "Second question")
    assert 'You said: "Second question"' in second.assistant_text
    page = chatkit_client.list_items(first.thread_id, order="asc")
    assert [item.type for item in page.data] == [
        "user_message",
        "assistant_message",
        "user_message",
        "assistant_message",
    ]
    assert page.data[1].id != page.data[3].id
    usage = list(models.TurnUsage.objects.filter(thread_id=first.thread_id).order_by("id"))
    assert len(usage) == 2
    assert {row.provider for row in usage} == {"offline"}
    assert {row.model for row in usage} == {"offline-demo"}
    assert all(row.requests == 1 and row.output_tokens > 0 for row in usage)


def test_without_naming_a_tool_it_lists_the_tools(chatkit_client, tool_agent):
    result = chatkit_client.create_thread("Hello")
    assert result.errors == []
    assert "Mention a tool to see the agent call it: `get_weather`" in result.assistant_text
    assert weather_calls == []


def test_naming_a_tool_calls_it_and_reports_its_output(chatkit_client, tool_agent):
    result = chatkit_client.create_thread('Please call get_weather with {"city": "Oslo"}')
    assert result.errors == []
    assert weather_calls == ["Oslo"]
    assert result.assistant_text == (
        f"{LABEL} The tool `get_weather` returned: Sunny and 21 degrees in Oslo"
    )
    page = chatkit_client.list_items(result.thread_id, order="asc")
    assert [item.type for item in page.data][-1] == "assistant_message"


def test_a_tool_named_in_words_is_called_with_default_arguments(chatkit_client, tool_agent):
    result = chatkit_client.create_thread("What does get weather say?")
    assert weather_calls == ["Paris"]
    assert "returned: Sunny and 21 degrees in Paris" in result.assistant_text


def test_naming_an_agent_hands_off_to_it_and_the_thread_stays_there(chatkit_client):
    billing = Agent(name="Billing", instructions="Invoices.")
    triage = Agent(name="Triage", instructions="Route.", handoffs=[billing])
    with override_agent(triage):
        first = chatkit_client.create_thread("I have a billing question")
        second = chatkit_client.send(first.thread_id, "Still there?")
    assert first.errors == [] and first.assistant_text.startswith(
        f'{LABEL} The Billing agent has taken over. You said: "I have a billing question".'
    )
    progress = [e.text for e in first.events if e.type == "progress_update"]
    assert progress == ["Handing off to Billing…"]
    thread = models.Thread.objects.get(id=first.thread_id)
    assert thread.metadata == {"chatkit_backend.active_agent": "Billing"}
    # The next turn starts at Billing, which hands off to nobody: a plain demo answer.
    assert second.assistant_text.startswith(f'{LABEL} You said: "Still there?"')
    assert [e for e in second.events if e.type == "progress_update"] == []
