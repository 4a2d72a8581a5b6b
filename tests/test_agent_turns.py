"""Agent behaviour through the HTTP endpoint, with a ScriptedModel in place of the provider."""

import json
import logging

import pytest
from agents import Agent, function_tool
from agents.testing import ScriptedModel, assistant_message, function_call
from chatkit.types import (
    AssistantMessageItem,
    ClientToolCallItem,
    StructuredInputItem,
    ThreadItemReplacedEvent,
    WidgetItem,
)

from chatkit_backend import models
from chatkit_backend.testing import override_agent
from tests.support.agents import WEATHER_CALLS, tools_agent

pytestmark = pytest.mark.django_db(transaction=True)


def input_texts(call) -> str:
    """Everything the model was sent in one call, as text (for 'does it contain' checks)."""
    return json.dumps(call.input, default=str)


@pytest.fixture
def tools_model():
    model = ScriptedModel()
    with override_agent(tools_agent(model)):
        yield model


def test_model_receives_earlier_turns_in_order(chatkit_client, model):
    model.extend([[assistant_message("A1")], [assistant_message("A2")], [assistant_message("A3")]])
    thread_id = chatkit_client.create_thread("first question").thread_id
    chatkit_client.send(thread_id, "second question")
    third = chatkit_client.send(thread_id, "third question")

    assert third.assistant_text == "A3"
    last_input = model.calls[-1].input
    roles_and_text = [(item["role"], json.dumps(item["content"])) for item in last_input]
    assert [role for role, _ in roles_and_text] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    joined = " ".join(text for _, text in roles_and_text)
    for expected in ["first question", "A1", "second question", "A2", "third question"]:
        assert expected in joined
    assert joined.index("first question") < joined.index("A1") < joined.index("second question")
    # Three distinct assistant messages are stored, none overwriting another.
    stored = [i for i in chatkit_client.list_items(thread_id).data if i.type == "assistant_message"]
    assert len({item.id for item in stored}) == 3


def test_history_window_is_bounded_to_the_newest_items(chatkit_client, model, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "HISTORY_LIMIT": 3}
    model.extend([[assistant_message(f"A{i}")] for i in range(3)])
    thread_id = chatkit_client.create_thread("oldest question").thread_id
    chatkit_client.send(thread_id, "middle question")
    chatkit_client.send(thread_id, "newest question")
    sent = input_texts(model.calls[-1])
    assert len(model.calls[-1].input) == 3
    assert "oldest question" not in sent
    assert "newest question" in sent and "A1" in sent


def test_function_tool_call_runs_the_tool_and_answers(chatkit_client, tools_model):
    WEATHER_CALLS.clear()
    tools_model.extend(
        [
            [function_call("get_weather", {"city": "Lisbon"}, call_id="call_w1")],
            [assistant_message("It is sunny in Lisbon.")],
        ]
    )
    result = chatkit_client.create_thread("Weather in Lisbon?")
    assert result.errors == []
    assert WEATHER_CALLS == ["Lisbon"]
    assert result.assistant_text == "It is sunny in Lisbon."
    # The tool's output went back to the model on its second call.
    assert "Sunny and 21" in input_texts(tools_model.calls[1])


def test_client_tool_call_round_trip(chatkit_client, tools_model):
    tools_model.extend(
        [
            [function_call("read_selection", {}, call_id="call_sel")],
            [assistant_message("You selected 'hello'.")],
        ]
    )
    first = chatkit_client.create_thread("What did I select?")
    calls = [item for item in first.items if isinstance(item, ClientToolCallItem)]
    assert len(calls) == 1
    assert calls[0].status == "pending" and calls[0].name == "read_selection"
    assert calls[0].arguments == {"max": 100}

    second = chatkit_client.client_tool_output(first.thread_id, {"text": "hello"})
    assert second.errors == []
    assert second.assistant_text == "You selected 'hello'."
    sent = tools_model.calls[-1].input
    outputs = [item for item in sent if item.get("type") == "function_call_output"]
    assert outputs and json.loads(outputs[-1]["output"]) == {"text": "hello"}
    stored = chatkit_client.list_items(first.thread_id, order="asc").data
    tool_call = next(item for item in stored if isinstance(item, ClientToolCallItem))
    assert tool_call.status == "completed" and tool_call.output == {"text": "hello"}


def test_client_tool_output_without_pending_call_is_400(chatkit_client, model):
    model.enqueue([assistant_message("plain")])
    thread_id = chatkit_client.create_thread("hi").thread_id
    before = list(models.ThreadItem.objects.values_list("data", flat=True))
    response = chatkit_client.request(
        "threads.add_client_tool_output", thread_id=thread_id, result={}
    )
    assert response.status == 400
    assert response.json()["error"]["code"] == "no_pending_client_tool_call"
    assert list(models.ThreadItem.objects.values_list("data", flat=True)) == before


def _thread_with_widget(chatkit_client, tools_model):
    tools_model.extend(
        [[function_call("show_choice", {}, call_id="call_card")], [assistant_message("Shown.")]]
    )
    result = chatkit_client.create_thread("Show me the card")
    widget = next(item for item in result.items if isinstance(item, WidgetItem))
    return result.thread_id, widget


def test_widget_action_reaches_the_agent(chatkit_client, tools_model):
    thread_id, widget = _thread_with_widget(chatkit_client, tools_model)
    tools_model.enqueue([assistant_message("Great, proceeding.")])
    result = chatkit_client.custom_action(
        thread_id, {"type": "choose", "payload": {"answer": "yes"}}, item_id=widget.id
    )
    assert result.errors == []
    assert result.assistant_text == "Great, proceeding."
    sent = input_texts(tools_model.calls[-1])
    assert "choose" in sent and "yes" in sent
    # The note the agent saw is stored but never shown to the user.
    assert all(item.type != "hidden_context_item" for item in result.items)
    assert all(
        item.type != "hidden_context_item" for item in chatkit_client.list_items(thread_id).data
    )
    assert (
        models.ThreadItem.objects.filter(thread_id=thread_id, type="hidden_context_item").count()
        == 1
    )


def test_sync_custom_action_default_is_a_clear_400(chatkit_client, tools_model):
    thread_id, widget = _thread_with_widget(chatkit_client, tools_model)
    response = chatkit_client.request(
        "threads.sync_custom_action",
        thread_id=thread_id,
        item_id=widget.id,
        action={"type": "choose", "payload": {"answer": "yes"}},
    )
    assert response.status == 400
    assert response.json()["error"]["code"] == "not_configured"
    assert "SERVER_CLASS" in response.json()["error"]["message"]


def test_sync_custom_action_with_a_server_subclass(chatkit_client, tools_model, settings):
    thread_id, widget = _thread_with_widget(chatkit_client, tools_model)
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "SERVER_CLASS": "tests.support.agents.ActionServer",
    }
    answer = chatkit_client.sync_custom_action(
        thread_id, {"type": "choose", "payload": {"answer": "yes"}}, item_id=widget.id
    )
    assert answer.updated_item is not None
    assert answer.updated_item.widget.children[0].value == "You chose yes"


def test_an_orchestrator_subclass_named_by_the_server_class_runs_the_turns(
    chatkit_client, model, settings
):
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "SERVER_CLASS": "tests.support.agents.SteadyServer",
    }
    model.enqueue([assistant_message("steady")])
    result = chatkit_client.create_thread("hello")
    assert result.assistant_text == "steady"
    assert model.calls[0].model_settings.temperature == 0.2


def test_structured_input_round_trip(chatkit_client, tools_model):
    tools_model.extend([[function_call("ask_details", {}, call_id="call_ask")]])
    first = chatkit_client.create_thread("Ask me something")
    question = next(item for item in first.items if isinstance(item, StructuredInputItem))
    assert question.status == "pending"

    tools_model.enqueue([assistant_message("Blue it is.")])
    second = chatkit_client.structured_input(first.thread_id, question.id, {"color": ["blue"]})
    replaced = [e for e in second.events if isinstance(e, ThreadItemReplacedEvent)]
    assert replaced and replaced[0].item.status == "answered"
    assert second.assistant_text == "Blue it is."
    assert "Favourite colour?: blue" in input_texts(tools_model.calls[-1])
    # Answering twice is refused before anything streams.
    again = chatkit_client.request(
        "threads.add_structured_input",
        thread_id=first.thread_id,
        item_id=question.id,
        input={"answers": {"color": {"values": ["red"]}}},
    )
    assert again.status == 400


def test_retry_after_item_replaces_the_answer(chatkit_client, model):
    model.extend([[assistant_message("first try")], [assistant_message("second try")]])
    first = chatkit_client.create_thread("question")
    user_item = next(item for item in first.items if item.type == "user_message")
    retried = chatkit_client.retry(first.thread_id, user_item.id)
    assert retried.assistant_text == "second try"
    texts = [
        item.content[0].text
        for item in chatkit_client.list_items(first.thread_id).data
        if isinstance(item, AssistantMessageItem)
    ]
    assert texts == ["second try"]


def test_retry_after_a_non_user_item_is_400(chatkit_client, model):
    model.enqueue([assistant_message("answer")])
    first = chatkit_client.create_thread("question")
    answer = first.assistant_messages[0]
    response = chatkit_client.request(
        "threads.retry_after_item", thread_id=first.thread_id, item_id=answer.id
    )
    assert response.status == 400


def test_usage_is_recorded_per_turn(chatkit_client, model):
    from agents import Usage

    model.set_default_usage(Usage(requests=1, input_tokens=11, output_tokens=7, total_tokens=18))
    model.enqueue([assistant_message("counted")])
    thread_id = chatkit_client.create_thread("count me").thread_id
    usage = models.TurnUsage.objects.get(thread_id=thread_id)
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (11, 7, 18)


def test_agent_setting_accepts_a_dotted_path_callable(chatkit_client, settings):
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "AGENT": "chatkit_backend.reasoning.agents.default_agent",
        "LLM_PROVIDER": "offline",
    }
    result = chatkit_client.create_thread("hello offline")
    assert "Offline demo model" in result.assistant_text


def test_unexpected_agent_setting_gives_an_error_event_not_a_traceback(
    chatkit_client, settings, caplog
):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "AGENT": lambda context: 42}
    with caplog.at_level(logging.ERROR):
        result = chatkit_client.create_thread("hi")
    # The widget gets a stream that ends in its own retryable error event...
    assert result.response.status == 200 and result.response.is_stream
    [error] = result.errors
    assert (error.code, error.allow_retry) == ("stream.error", True)
    # ...and nothing of the exception: no traceback, no internals.
    assert b"Traceback" not in result.response.content
    assert b"returned int" not in result.response.content
    # The site's developer finds out what is wrong in the log.
    [record] = [r for r in caplog.records if r.exc_info and r.exc_info[0] is TypeError]
    assert "CHATKIT_BACKEND['AGENT'] returned int, not an Agent" in record.getMessage()


@function_tool
def broken_inventory(sku: str) -> str:
    """Look up stock (and fail, as real code sometimes does)."""
    raise LookupError(f"inventory service refused sku {sku}")


def test_a_tool_that_raises_is_logged_with_its_traceback(chatkit_client, caplog):
    """The model is told the tool failed; the site's developer finds out why in the log."""
    model = ScriptedModel(
        [
            [function_call("broken_inventory", {"sku": "X-1"}, call_id="call_b1")],
            [assistant_message("Sorry, I could not check the stock.")],
        ]
    )
    agent = Agent(name="Shop", instructions="Check stock.", tools=[broken_inventory], model=model)
    with caplog.at_level(logging.WARNING), override_agent(agent):
        result = chatkit_client.create_thread("Is X-1 in stock?")
    assert result.errors == []
    assert result.assistant_text == "Sorry, I could not check the stock."
    assert "An error occurred while running the tool" in input_texts(model.calls[1])
    [record] = [r for r in caplog.records if r.exc_info and r.exc_info[0] is LookupError]
    assert record.name.startswith("chatkit_backend.")
    assert record.levelno == logging.ERROR
    assert "broken_inventory" in record.getMessage()
    assert "call_b1" in record.getMessage()
    assert "inventory service refused sku X-1" in caplog.text  # the traceback's last line
