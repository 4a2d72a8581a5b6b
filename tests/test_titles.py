"""Titles written by a model (``TITLE_MODEL`` / ``TITLE_AGENT``), beside the first answer.

Over real HTTP with a loopback provider that holds the title request: the answer streams
while the title model has not said a word, so the order of events (not a clock) shows the
title never delays the answer.
"""

from __future__ import annotations

import pytest
from agents import Agent
from agents.testing import ScriptedModel, assistant_message
from chatkit.types import ThreadItemUpdatedEvent, ThreadUpdatedEvent

from chatkit_backend import models
from chatkit_backend.testing import LiveServer
from tests.support.fake_provider import FakeProvider
from tests.support.turn_streams import create_params, provider_settings, stream_turn
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "Paris is the capital of France, and has been for a long time."


def is_title_request(request) -> bool:
    return (request.json or {}).get("model") == "title-model"


def title_updates(events) -> list[str | None]:
    return [event.thread.title for event in events if isinstance(event, ThreadUpdatedEvent)]


@pytest.fixture
def provider(settings):
    with FakeProvider(default_answer=ANSWER) as server:
        with provider_settings(settings, server, TITLE_MODEL="title-model"):
            yield server


def test_a_slow_title_model_does_not_delay_the_first_answer(
    live_asgi: LiveServer, chatkit_user, provider: FakeProvider
):
    provider.answer_if(is_title_request, '"Capital of France."')
    provider.hold_if(is_title_request)
    seen_at_first_delta = {}

    def on_event(event, turn):
        if isinstance(event, ThreadItemUpdatedEvent) and len(turn.deltas) == 1:
            # The answer is streaming while the title request is (or soon is, as the two run
            # side by side) held at the provider: the title did not come first.
            wait_until(lambda: provider.held, message="the title request reaches the provider")
            seen_at_first_delta["held"] = [r.json["model"] for r in provider.held]
            seen_at_first_delta["titles"] = title_updates(turn.events)
            provider.release_held()
        return None

    turn = stream_turn(
        live_asgi.http(chatkit_user),
        "threads.create",
        on_event,
        **create_params("What is the capital of France? Asking for a quiz."),
    )

    assert turn.errors == [] and turn.text == ANSWER
    assert seen_at_first_delta == {"held": ["title-model"], "titles": []}
    # The model's title arrives after the first delta, cleaned of its quotes and full stop.
    assert title_updates(turn.events) == ["Capital of France"]
    first_delta = next(
        i for i, e in enumerate(turn.events) if isinstance(e, ThreadItemUpdatedEvent)
    )
    titled = next(i for i, e in enumerate(turn.events) if isinstance(e, ThreadUpdatedEvent))
    assert first_delta < titled
    thread = models.Thread.objects.get(id=turn.thread_id)
    assert thread.title == "Capital of France"
    # What the title cost is recorded beside the answer's usage.
    usage = sorted(models.TurnUsage.objects.filter(thread=thread).values_list("model", flat=True))
    assert usage == ["slow-model", "title-model"]


def test_a_failing_title_model_falls_back_to_the_first_words(
    live_asgi: LiveServer, chatkit_user, provider: FakeProvider
):
    provider.fail_if(is_title_request, 500)
    turn = stream_turn(
        live_asgi.http(chatkit_user), "threads.create", **create_params("Plan my trip to Rome")
    )
    assert turn.errors == [] and turn.text == ANSWER
    assert title_updates(turn.events) == ["Plan my trip to Rome"]
    assert [r.json["model"] for r in provider.model_requests()].count("title-model") == 1
    assert models.Thread.objects.get(id=turn.thread_id).title == "Plan my trip to Rome"


def test_only_a_new_threads_first_message_is_titled(
    live_asgi: LiveServer, chatkit_user, provider: FakeProvider
):
    provider.answer_if(is_title_request, "Greetings")
    http = live_asgi.http(chatkit_user)
    first = stream_turn(http, "threads.create", **create_params("Hello"))
    second = stream_turn(
        http,
        "threads.add_user_message",
        thread_id=first.thread_id,
        **create_params("And again"),
    )
    assert title_updates(first.events) == ["Greetings"]
    assert title_updates(second.events) == []
    assert [r.json["model"] for r in provider.model_requests()].count("title-model") == 1


def test_with_the_offline_model_titles_are_the_first_words(chatkit_client, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "TITLE_MODEL": "title-model"}
    result = chatkit_client.create_thread("Tell me about the offline model")
    assert result.errors == []
    assert chatkit_client.get_thread(result.thread_id).title == "Tell me about the offline model"


def test_a_title_agent_of_the_sites_own(chatkit_client, settings, model):
    title_model = ScriptedModel([[assistant_message("Weekend plans")]])
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "TITLE_AGENT": Agent(name="Titles", instructions="Title it.", model=title_model),
    }
    model.enqueue([assistant_message("Sure, here are some ideas.")])
    result = chatkit_client.create_thread("What should I do this weekend?")
    assert result.assistant_text == "Sure, here are some ideas."
    assert chatkit_client.get_thread(result.thread_id).title == "Weekend plans"
    # The title agent read the first message.
    assert "What should I do this weekend?" in str(title_model.calls[0].input)


def not_an_agent(context):
    return "this is not an agent"


def test_a_broken_title_agent_never_fails_the_turn(chatkit_client, settings, model):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "TITLE_AGENT": not_an_agent}
    model.enqueue([assistant_message("Fine.")])
    result = chatkit_client.create_thread("Is everything fine?")
    assert result.errors == [] and result.assistant_text == "Fine."
    assert chatkit_client.get_thread(result.thread_id).title == "Is everything fine?"
