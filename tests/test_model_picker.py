"""The composer's model picker (``MODEL_CHOICES``) and tool choice (``inference_options``).

Against a loopback OpenAI-compatible server that records every request body: what the user
picked is what reaches the provider, and nothing else does.
"""

from __future__ import annotations

import json

import pytest
from agents import Agent
from chatkit.types import ErrorEvent

from chatkit_backend import models
from chatkit_backend.testing import message_input, parse_sse
from tests.support.agents import WEATHER_CALLS, get_weather
from tests.support.fake_provider import FakeProvider, ToolCall
from tests.support.turn_streams import provider_settings

pytestmark = pytest.mark.django_db(transaction=True)

CHOICES = [
    {"id": "small-model", "label": "Fast", "default": True},
    {"id": "big-model", "label": "Careful", "description": "Slower, more thorough"},
    {"id": "retired-model", "label": "Old", "disabled": True},
]
weather_agent = Agent(name="Forecaster", instructions="Use your tools.", tools=[get_weather])


@pytest.fixture
def provider(settings):
    with FakeProvider(default_answer="Done.") as server:
        with provider_settings(settings, server, MODEL_CHOICES=CHOICES):
            yield server


def create(chatkit_client, text: str = "Hello", **options):
    return chatkit_client.request("threads.create", input=message_input(text, **options))


def refused_with(response) -> str:
    """A streaming op refused before it streamed: one error event, in an SSE answer."""
    assert response.status == 200 and response.is_stream
    [event] = parse_sse(response.content)
    assert isinstance(event, ErrorEvent) and event.allow_retry is False
    return event.message or ""


def test_an_offered_model_reaches_the_provider(chatkit_client, provider: FakeProvider):
    response = create(chatkit_client, model="big-model")
    assert response.status == 200 and not any(
        isinstance(e, ErrorEvent) for e in parse_sse(response.content)
    )
    [request] = provider.model_requests()
    assert request.json["model"] == "big-model"
    # Settings fitted to the picked model: no GPT-5 reasoning settings for it.
    assert "reasoning_effort" not in request.json and "verbosity" not in request.json
    # The usage row names the model that answered.
    assert list(models.TurnUsage.objects.values_list("model", flat=True)) == ["big-model"]


def test_without_a_pick_the_configured_model_answers(chatkit_client, provider: FakeProvider):
    assert create(chatkit_client).status == 200
    assert [r.json["model"] for r in provider.model_requests()] == ["slow-model"]


@pytest.mark.parametrize(
    "model, words",
    [("gpt-5-pro", "'gpt-5-pro' is not one you can pick"), ("retired-model", "not one you")],
)
def test_a_model_not_offered_is_refused_before_anything_is_stored(
    chatkit_client, provider: FakeProvider, model, words
):
    message = refused_with(create(chatkit_client, model=model))
    assert words in message
    assert provider.requests == []
    assert not models.Thread.objects.exists() and not models.ThreadItem.objects.exists()


def test_without_model_choices_no_model_may_be_named(chatkit_client, provider, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "MODEL_CHOICES": None}
    assert "does not let you pick a model" in refused_with(create(chatkit_client, model="x"))
    assert provider.requests == []


def test_a_model_taken_off_the_list_is_refused_on_retry(chatkit_client, provider, settings):
    thread_id = chatkit_client.create_thread("first").thread_id
    response = chatkit_client.request(
        "threads.add_user_message",
        thread_id=thread_id,
        input=message_input("hi", model="big-model"),
    )
    assert response.status == 200
    message_id = chatkit_client.list_items(thread_id).data[1].id  # the second user message
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "MODEL_CHOICES": CHOICES[:1]}
    retried = chatkit_client.retry(thread_id, message_id)
    assert [error.message for error in retried.errors] == [
        "The model 'big-model' is not one you can pick here."
    ]
    assert [r.json["model"] for r in provider.model_requests()] == ["slow-model", "big-model"]


def test_tool_choice_forces_that_tool_for_the_first_step(chatkit_client, provider, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "AGENT": weather_agent}
    WEATHER_CALLS.clear()
    provider.script(ToolCall("get_weather", json.dumps({"city": "Oslo"})), "It is sunny.")
    result = chatkit_client.stream(
        "threads.create", input=message_input("Oslo?", tool_choice={"id": "get_weather"})
    )
    assert result.errors == [] and result.assistant_text == "It is sunny."
    first, second = (r.json for r in provider.model_requests())
    assert first["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    # Once the tool ran, the model is free again (otherwise it would call it for ever).
    assert second.get("tool_choice") in (None, "auto")
    assert WEATHER_CALLS == ["Oslo"]


def test_a_tool_the_agent_does_not_have_is_refused(chatkit_client, provider, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "AGENT": weather_agent}
    response = create(chatkit_client, tool_choice={"id": "delete_everything"})
    assert "'delete_everything' is not available" in refused_with(response)
    assert provider.requests == [] and not models.Thread.objects.exists()


def test_the_composer_endpoint_feeds_the_page(chatkit_client, client, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "MODEL_CHOICES": CHOICES}
    answer = chatkit_client.transport.get("/chatkit/composer")
    assert answer.status_code == 200
    assert answer.json() == {"models": CHOICES, "dictation": {"enabled": False}}


def test_the_composer_endpoint_needs_credentials(client):
    assert client.get("/chatkit/composer").status_code == 401


def broken_agent(context):
    raise RuntimeError("the site's agent factory is broken")


def test_a_tool_pick_with_a_broken_agent_is_an_error_event_not_a_500(chatkit_client, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "AGENT": broken_agent}
    response = create(chatkit_client, tool_choice={"id": "get_weather"})
    assert response.status == 200
    assert ErrorEvent in [type(e) for e in parse_sse(response.content)]
