"""The example's teaching ladder (``EXAMPLE_AGENT``): each step over the wire, as a user sees it.

Every step runs twice: on the offline demo model (what a newcomer without a key gets, driven
by keywords) and on a ``ScriptedModel`` (what a real model's answers would do). The steps'
settings come from ``example_project.ladder``, exactly as the example site takes them.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from chatkit.types import (
    ClientToolCallItem,
    NoticeEvent,
    ProgressUpdateEvent,
    ThreadItemReplacedEvent,
    ThreadUpdatedEvent,
    WidgetItem,
    WorkflowItem,
)
from django.core.exceptions import ImproperlyConfigured

from chatkit_backend import models
from chatkit_backend.providers.offline import LABEL
from chatkit_backend.reasoning.handoffs import ACTIVE_AGENT_KEY, RESET_AGENT_ACTION
from chatkit_backend.testing import override_agent, scripted_agent
from example_project import ladder
from example_project.ladder import agent as agent_step
from example_project.ladder import basic, multi_agent, tool
from tests.support.agents import tools_agent
from tests.support.example_site import PYTHON, REPO, site_environment
from tests.support.fake_provider import FakeProvider, ToolCall
from tests.test_example_site import load_settings

pytestmark = pytest.mark.django_db(transaction=True)

RESET = {"type": RESET_AGENT_ACTION, "payload": {}}


@pytest.fixture
def use_step(settings):
    """Configure the backend as ``EXAMPLE_AGENT=<name>`` configures the example site."""

    def use(name: str) -> None:
        settings.CHATKIT_BACKEND = {
            **settings.CHATKIT_BACKEND,
            "LLM_PROVIDER": "offline",
            **ladder.step(name).chatkit_backend,
        }

    return use


def progress(result) -> list[str]:
    return [event.text for event in result.events if isinstance(event, ProgressUpdateEvent)]


def notices(result) -> list[NoticeEvent]:
    return [event for event in result.events if isinstance(event, NoticeEvent)]


def widget_text(widget) -> str:
    return json.dumps(widget.model_dump(mode="json"))


# -- choosing a step --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["basic", "agent", "tool", "multi_agent"])
def test_each_step_is_a_setting_of_the_example_site(monkeypatch, name):
    site = load_settings(monkeypatch, EXAMPLE_AGENT=name)
    assert site.EXAMPLE_AGENT == name
    for key, value in ladder.STEPS[name].chatkit_backend.items():
        assert site.CHATKIT_BACKEND[key] == value
    assert site.CHATKIT_BACKEND["DOMAIN_KEY"]


def test_without_example_agent_the_demo_agent_answers(monkeypatch):
    site = load_settings(monkeypatch)
    assert site.CHATKIT_BACKEND["AGENT"] == "example_project.demo.agents.build_agent"
    assert "SERVER_CLASS" not in site.CHATKIT_BACKEND


def test_an_unknown_step_stops_the_settings(monkeypatch):
    with pytest.raises(ImproperlyConfigured) as raised:
        load_settings(monkeypatch, EXAMPLE_AGENT="multi-agent")
    assert str(raised.value) == (
        "EXAMPLE_AGENT='multi-agent' is not a step of the ladder: use one of basic, agent, "
        "tool, multi_agent, or leave it unset for the demo agent."
    )


def test_an_unknown_step_stops_manage_py(tmp_path):
    env = site_environment(f"sqlite:///{tmp_path / 'db.sqlite3'}", EXAMPLE_AGENT="tools")
    run = subprocess.run(
        [PYTHON, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert run.returncode != 0
    assert "EXAMPLE_AGENT='tools' is not a step of the ladder" in run.stderr


# -- step 1: basic (no agent, no model) ---------------------------------------------------------


def test_basic_streams_an_answer_without_any_model(live_asgi, chatkit_user, use_step, settings):
    use_step("basic")
    # A scripted agent with nothing to say: were anything to ask it, the turn would fail.
    model = ScriptedModel()
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "AGENT": scripted_agent(model)}
    client = live_asgi.chatkit(chatkit_user)
    first = client.create_thread("Hello, protocol!")
    assert first.errors == []
    assert len(first.text_deltas) > 5 and "".join(first.text_deltas) == first.assistant_text
    assert first.assistant_text.startswith(basic.LABEL)
    assert 'You said: "Hello, protocol!" (2 words)' in first.assistant_text
    titles = [e.thread.title for e in first.events if isinstance(e, ThreadUpdatedEvent)]
    assert titles[-1] == "Hello, protocol!"

    second = client.send(first.thread_id, "Again")
    assert 'You said: "Again" (1 word)' in second.assistant_text
    stored = client.list_items(first.thread_id, order="asc").data
    assert [item.type for item in stored] == ["user_message", "assistant_message"] * 2
    assert model.calls == ()


# -- step 2: agent ----------------------------------------------------------------------------


def test_agent_answers_on_the_offline_model(live_asgi, chatkit_user, use_step):
    use_step("agent")
    result = live_asgi.chatkit(chatkit_user).create_thread("Who are you?")
    assert result.errors == [] and len(result.text_deltas) > 5
    assert result.assistant_text.startswith(f'{LABEL} You said: "Who are you?".')


def test_agent_runs_with_its_instructions(chatkit_client, use_step, chatkit_user):
    use_step("agent")
    model = ScriptedModel()
    model.enqueue([assistant_message("I am your ChatKit guide.")])
    with override_agent(scripted_agent(model, agent_step.build_agent)):
        result = chatkit_client.create_thread("Who are you?")
    assert result.errors == [] and result.assistant_text == "I am your ChatKit guide."
    instructions = model.calls[0].system_instructions
    assert instructions.startswith(agent_step.INSTRUCTIONS)
    assert instructions.endswith(f"The user's name is {chatkit_user.get_username()}.")


# -- step 3: tool -----------------------------------------------------------------------------


def counter_of(result) -> WidgetItem:
    [item] = [item for item in result.items if isinstance(item, WidgetItem)]
    return item


def button_action(widget: WidgetItem, label: str) -> dict:
    """The action a click on the button labelled ``label`` sends, as the browser sends it."""
    row = widget.widget.model_dump(mode="json")["children"][-1]
    config = next(button["onClickAction"] for button in row["children"] if button["label"] == label)
    return {"type": config["type"], "payload": config["payload"]}


def stored_widget(client, thread_id: str) -> str:
    items = client.list_items(thread_id).data
    return widget_text(next(item for item in items if isinstance(item, WidgetItem)).widget)


def check_counter_actions(client, result) -> None:
    """The counter's buttons: streaming (+1) and sync (+1 (sync)), each kept in the thread."""
    widget = counter_of(result)
    assert "Count: 0" in widget_text(widget.widget)

    clicked = client.custom_action(result.thread_id, button_action(widget, "+1"), widget.id)
    assert clicked.errors == []
    [replaced] = [e for e in clicked.events if isinstance(e, ThreadItemReplacedEvent)]
    assert replaced.item.id == widget.id and "Count: 1" in widget_text(replaced.item.widget)
    assert "Count: 1" in stored_widget(client, result.thread_id)

    answer = client.sync_custom_action(
        result.thread_id, button_action(replaced.item, "+1 (sync)"), widget.id
    )
    assert answer.updated_item.id == widget.id
    assert "Count: 2" in widget_text(answer.updated_item.widget)
    assert "Count: 2" in stored_widget(client, result.thread_id)


def test_tool_step_on_the_offline_model(live_asgi, chatkit_user, use_step):
    use_step("tool")
    client = live_asgi.chatkit(chatkit_user)

    weather = client.create_thread('get_weather {"city": "Lima"}')
    assert weather.errors == []
    assert progress(weather) == ["Using get_weather…", "Asking the sky over Lima…"]
    assert weather.assistant_text == (
        f"{LABEL} The tool `get_weather` returned: Sunny and 21°C in Lima (demo data)."
    )

    shown = client.send(weather.thread_id, "show_counter")
    assert shown.errors == [] and "returned: A counter starting at 0" in shown.assistant_text
    check_counter_actions(client, shown)

    theme = client.send(weather.thread_id, 'switch_theme {"theme": "dark"}')
    [call] = [item for item in theme.items if isinstance(item, ClientToolCallItem)]
    assert (call.name, call.arguments, call.status) == (
        "switch_theme",
        {"theme": "dark"},
        "pending",
    )
    assert theme.assistant_messages == []  # the run waits for the browser
    after = client.client_tool_output(weather.thread_id, {"theme": "dark"})
    assert after.errors == []
    assert after.assistant_text == f'{LABEL} The tool `switch_theme` returned: {{"theme": "dark"}}'


def test_tool_step_on_a_scripted_model(chatkit_client, use_step):
    use_step("tool")
    model = ScriptedModel()
    model.extend(
        [
            [function_call("get_weather", {"city": "Oslo"}, call_id="w1")],
            [assistant_message("Sunny in Oslo.")],
            [function_call("show_counter", {"start": 0}, call_id="c1")],
            [assistant_message("Here is a counter.")],
            [function_call("switch_theme", {"theme": "light"}, call_id="t1")],
            [assistant_message("The page is light now.")],
        ]
    )
    with override_agent(scripted_agent(model, tool.build_agent)):
        weather = chatkit_client.create_thread("What's the weather in Oslo?")
        assert progress(weather) == ["Using get_weather…", "Asking the sky over Oslo…"]
        assert weather.assistant_text == "Sunny in Oslo."
        assert "Sunny and 21°C in Oslo" in json.dumps(model.calls[1].input, ensure_ascii=False)

        shown = chatkit_client.send(weather.thread_id, "Give me a counter")
        assert shown.assistant_text == "Here is a counter."
        check_counter_actions(chatkit_client, shown)

        theme = chatkit_client.send(weather.thread_id, "Make it light")
        [call] = [item for item in theme.items if isinstance(item, ClientToolCallItem)]
        assert (call.name, call.arguments) == ("switch_theme", {"theme": "light"})
        after = chatkit_client.client_tool_output(weather.thread_id, {"theme": "light"})
    assert after.assistant_text == "The page is light now."
    assert '{\\"theme\\": \\"light\\"}' in json.dumps(model.calls[-1].input)
    assert model.remaining_steps == 0


def test_a_counter_payload_from_the_browser_is_not_trusted(chatkit_client, use_step):
    use_step("tool")
    shown = chatkit_client.create_thread("show_counter")
    widget = counter_of(shown)
    for payload, expected in [({"count": "9"}, 1), ({"count": 10**12}, 1_000_000), (None, 1)]:
        action = {"type": tool.COUNTER_ACTION, "payload": payload}
        answer = chatkit_client.sync_custom_action(shown.thread_id, action, widget.id)
        assert f"Count: {expected}" in widget_text(answer.updated_item.widget)
        assert answer.updated_item.copy_text == f"Count: {expected}"


def test_the_counter_action_from_another_widget_changes_nothing(chatkit_client, use_step):
    use_step("tool")
    model = ScriptedModel()
    model.extend([[function_call("show_choice", {}, call_id="s1")], [assistant_message("OK")]])
    with override_agent(tools_agent(model)):
        shown = chatkit_client.create_thread("Show a choice")
    [card] = [item for item in shown.items if isinstance(item, WidgetItem)]
    action = {"type": tool.COUNTER_ACTION, "payload": {"count": 1}}
    response = chatkit_client.request(
        "threads.sync_custom_action", thread_id=shown.thread_id, item_id=card.id, action=action
    )
    assert response.status == 400  # the default: this server does not handle it
    assert stored_widget(chatkit_client, shown.thread_id) == widget_text(card.widget)


# -- step 4: multi_agent ----------------------------------------------------------------------


def active_agent(thread_id: str) -> str | None:
    return models.Thread.objects.get(id=thread_id).metadata.get(ACTIVE_AGENT_KEY)


def test_multi_agent_on_the_offline_model(live_asgi, chatkit_user, use_step):
    use_step("multi_agent")
    client = live_asgi.chatkit(chatkit_user)

    first = client.create_thread("My invoice is wrong (billing)")
    assert first.errors == [] and progress(first) == ["Handing off to Billing…"]
    assert first.assistant_text.startswith(f"{LABEL} The Billing agent has taken over.")
    assert active_agent(first.thread_id) == "Billing"

    # Turn 2 starts at Billing: only Billing has lookup_invoice.
    second = client.send(first.thread_id, "Please lookup_invoice")
    assert second.assistant_text == (
        f"{LABEL} The tool `lookup_invoice` returned: "
        "Invoice INV-1001: 42.00 EUR, paid on 2026-11-02 (demo data)."
    )

    reset = client.custom_action(first.thread_id, RESET)
    assert [n.message for n in notices(reset)] == ["You are talking to Triage again."]
    assert active_agent(first.thread_id) is None
    # Back at triage: lookup_invoice is not among its tools, translate is.
    third = client.send(first.thread_id, "Please lookup_invoice")
    assert "returned" not in third.assistant_text and "`translate`" in third.assistant_text

    # The translator agent, used as a tool: its answer comes back as the tool's output.
    translated = client.send(first.thread_id, "translate good morning")
    assert progress(translated) == ["Using translate…"]
    assert translated.assistant_text.startswith(
        f'{LABEL} The tool `translate` returned: {LABEL} You said: "translate good morning".'
    )

    # The guardrail: a notice, no answer, and the thread goes on.
    blocked = client.send(first.thread_id, "my password is hunter2")
    assert [(n.level, n.message) for n in notices(blocked)] == [
        ("warning", "Please don't share passwords here: none of our agents need one.")
    ]
    assert blocked.errors == [] and blocked.assistant_messages == []
    after = client.send(first.thread_id, "shipping please")
    assert after.errors == [] and progress(after) == ["Handing off to Shipping…"]

    # Shipping's tool shows its steps as a workflow, kept in the thread.
    tracked = client.send(first.thread_id, "track_parcel")
    [workflow] = [item for item in tracked.items if isinstance(item, WorkflowItem)]
    assert [task.title for task in workflow.workflow.tasks] == [
        "Found PKG-7",
        "Asked the depot",
        "On the van since 08:10",
    ]
    assert tracked.assistant_text.endswith("Parcel PKG-7 is out for delivery (demo data).")
    stored = client.list_items(first.thread_id, limit=3).data
    assert any(isinstance(item, WorkflowItem) for item in stored)


def test_multi_agent_on_a_scripted_model(chatkit_client, use_step):
    use_step("multi_agent")
    model = ScriptedModel()  # every agent answers with it, in the order they are asked
    with override_agent(multi_agent.build_team(model)):
        model.extend(
            [
                [function_call("transfer_to_billing", {}, call_id="h1")],
                [assistant_message("Billing here: which invoice?")],
            ]
        )
        first = chatkit_client.create_thread("My invoice is wrong")
        assert progress(first) == ["Handing off to Billing…"]
        assert first.assistant_text == "Billing here: which invoice?"
        assert model.calls[1].system_instructions.startswith("You handle invoices")

        model.enqueue([assistant_message("Invoice 7 is fixed.")])
        second = chatkit_client.send(first.thread_id, "Invoice 7")
        assert second.assistant_text == "Invoice 7 is fixed."
        assert model.calls[-1].system_instructions.startswith("You handle invoices")

        chatkit_client.sync_custom_action(first.thread_id, RESET)
        model.extend(
            [
                [function_call("translate", {"input": "good morning"}, call_id="t1")],
                [assistant_message("bonjour")],  # the translator
                [assistant_message("In French: bonjour.")],  # triage, with its output
            ]
        )
        third = chatkit_client.send(first.thread_id, "Translate good morning")
        calls = model.calls
        assert calls[-3].system_instructions.startswith("You are the front desk")
        assert calls[-2].system_instructions.startswith("Translate the text")
        assert "good morning" in json.dumps(calls[-2].input)
        assert '"output": "bonjour"' in json.dumps(calls[-1].input)
        assert third.assistant_text == "In French: bonjour." and progress(third) == [
            "Using translate…"
        ]

        asked = len(model.calls)
        blocked = chatkit_client.send(first.thread_id, "Here is my passphrase: swordfish")
        assert [n.title for n in notices(blocked)] == [
            "The assistant cannot help with this message."
        ]
        assert len(model.calls) == asked  # the guardrail ran before any model

        model.enqueue([assistant_message("Happy to help.")])
        after = chatkit_client.send(first.thread_id, "Something else")
    assert after.errors == [] and after.assistant_text == "Happy to help."
    assert model.remaining_steps == 0


# -- then a real provider ---------------------------------------------------------------------


def test_the_steps_run_on_a_real_provider_too(chatkit_client, settings):
    """From offline to a provider, nothing in a step changes: the multi-agent step over the
    loopback OpenAI-compatible server (real HTTP, the real Chat Completions client)."""
    with FakeProvider() as server:
        settings.CHATKIT_BACKEND = {
            **settings.CHATKIT_BACKEND,
            **ladder.step("multi_agent").chatkit_backend,
            "LLM_PROVIDER": "openai_compatible",
            "LLM_BASE_URL": server.base_url,
            "LLM_MODEL": "local-model",
        }
        server.script(ToolCall("transfer_to_billing"), "Billing here.", "Invoice 7 is paid.")
        first = chatkit_client.create_thread("My invoice is wrong")
        second = chatkit_client.send(first.thread_id, "Invoice 7")
        requests = server.model_requests()
    assert first.errors == [] and progress(first) == ["Handing off to Billing…"]
    assert first.assistant_text == "Billing here." and second.assistant_text == "Invoice 7 is paid."
    systems = [request.json["messages"][0]["content"] for request in requests]
    assert systems[0].startswith("You are the front desk")
    # Turn 2 went straight to Billing.
    assert [s.startswith("You handle invoices") for s in systems[1:]] == [True, True]
    assert {request.json["model"] for request in requests} == {"local-model"}
