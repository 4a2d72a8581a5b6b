"""The provider layer through real HTTP: a loopback OpenAI-compatible server started per test.

``openai`` streams the Responses API, ``gemini`` and ``openai_compatible`` stream Chat
Completions; the real ``openai`` client, the Agents SDK model classes and our orchestrator run
against :class:`tests.support.fake_provider.FakeProvider` on 127.0.0.1. Nothing leaves the
machine.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunContextWrapper,
    StopAtTools,
    function_tool,
)
from agents.tracing.processors import BackendSpanExporter
from chatkit.agents import AgentContext, ClientToolCall
from chatkit.types import (
    ClientToolCallItem,
    ErrorEvent,
)
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent
from openai.types.shared import Reasoning
from pydantic import TypeAdapter

from chatkit_backend import models
from chatkit_backend.exceptions import ProviderConfigurationError
from chatkit_backend.providers import (
    ChatKitModelProvider,
    create_model,
    resolve_provider,
    tracing_enabled,
)
from chatkit_backend.providers.config import GEMINI_BASE_URL
from chatkit_backend.providers.factory import PLACEHOLDER_KEY
from chatkit_backend.providers.offline import OfflineModel
from chatkit_backend.reasoning.orchestrator import Orchestrator
from chatkit_backend.store import DjangoStore
from chatkit_backend.testing import override_agent
from tests.support.fake_provider import PLACEHOLDER_ID, FakeProvider, ToolCall
from tests.support.net import free_port

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-test-SECRET-1234567890"
OTHER_KEY = "sk-other-SECRET-0987654321"
DEFAULT_AGENT = "chatkit_backend.reasoning.agents.default_agent"
ENVIRONMENT = ("LLM_PROVIDER", "LLM_MODEL", "LLM_BASE_URL", "OPENAI_API_KEY", "GEMINI_API_KEY")


@dataclass(frozen=True)
class Case:
    provider: str
    path: str  # where the model requests go
    key_setting: str
    model: str  # the model name the request carries
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chat(self) -> bool:
        return self.path.endswith("/chat/completions")


CASES = {
    "openai": Case("openai", "/v1/responses", "OPENAI_API_KEY", "gpt-4.1-mini"),
    "gemini": Case("gemini", "/v1/chat/completions", "GEMINI_API_KEY", "gemini-2.5-flash"),
    "openai_compatible": Case(
        "openai_compatible",
        "/v1/chat/completions",
        "OPENAI_API_KEY",
        "llama-3.1-8b",
        {"LLM_MODEL": "llama-3.1-8b"},
    ),
}
RESPONSE_EVENT: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)
each_provider = pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """The developer's own keys and provider settings must not leak into these tests."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def no_trace_export(monkeypatch):
    """Belt and braces: traces never go to api.openai.com from a test, whatever the settings,
    and no test leaves its fake key behind as the process-wide trace export key."""
    exported: list[Any] = []
    monkeypatch.setattr(BackendSpanExporter, "export", lambda self, items: exported.extend(items))
    monkeypatch.setattr(
        "chatkit_backend.providers.factory.set_tracing_export_api_key", lambda key: None
    )
    return exported


@pytest.fixture
def server():
    with FakeProvider() as running:
        yield running


@pytest.fixture
def responses(chatkit_client):
    """Every response the protocol endpoint gives during the test."""
    seen = []
    post = chatkit_client.post

    def recording_post(body, content_type="application/json"):
        response = post(body, content_type)
        seen.append(response)
        return response

    chatkit_client.post = recording_post
    return seen


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def configure(settings, case: Case, base_url: str | None, **extra: Any) -> None:
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "AGENT": DEFAULT_AGENT,  # it has no model: the provider factory's model answers
        "LLM_PROVIDER": case.provider,
        case.key_setting: KEY,
        "LLM_BASE_URL": base_url,
        "LLM_TIMEOUT": 5,
        "LLM_MAX_RETRIES": 0,
        **case.extra,
        **extra,
    }


def assert_key_never_leaks(responses, caplog, *keys: str) -> None:
    assert responses, "no response was recorded"
    for key in keys or (KEY,):
        for secret in (key, key[-10:]):
            for response in responses:
                assert secret.encode() not in response.content
                assert secret not in repr(response.headers)
            assert secret not in caplog.text
            for record in caplog.records:
                assert secret not in record.getMessage()


def conversation(case: Case, body: dict[str, Any]) -> list[tuple[str, Any]]:
    """(role, content) of the messages a model request carries, system prompt aside."""
    messages = body["messages"] if case.chat else body["input"]
    turns = []
    for message in messages:
        if message.get("role") in (None, "system", "developer"):
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content)
        turns.append((message["role"], content))
    return turns


# -- tracing: the Agents SDK exports traces to OpenAI unless told otherwise ---------------------


def provider_settings(settings, **values: Any) -> None:
    """Only ``values`` configure the provider (besides the test settings' other keys)."""
    base = {
        name: value
        for name, value in settings.CHATKIT_BACKEND.items()
        if name not in (*ENVIRONMENT, "TRACING")
    }
    settings.CHATKIT_BACKEND = {**base, "AGENT": DEFAULT_AGENT, **values}


@pytest.mark.parametrize(
    "values, enabled",
    [
        ({"LLM_PROVIDER": "openai", "OPENAI_API_KEY": KEY}, True),
        ({"OPENAI_API_KEY": KEY}, True),
        ({"LLM_PROVIDER": "openai"}, False),
        ({"LLM_PROVIDER": "gemini", "GEMINI_API_KEY": KEY}, False),
        ({"LLM_PROVIDER": "gemini", "GEMINI_API_KEY": KEY, "OPENAI_API_KEY": KEY}, False),
        ({"LLM_PROVIDER": "offline"}, False),
        ({"LLM_PROVIDER": "offline", "OPENAI_API_KEY": KEY}, False),
        (
            {"LLM_PROVIDER": "openai_compatible", "LLM_BASE_URL": "http://127.0.0.1:9/v1/"},
            False,
        ),
        ({"LLM_PROVIDER": "openai", "OPENAI_API_KEY": KEY, "TRACING": False}, False),
        ({"LLM_PROVIDER": "gemini", "GEMINI_API_KEY": KEY, "TRACING": True}, True),
    ],
)
def test_tracing_only_with_an_openai_key(settings, values, enabled):
    provider_settings(settings, **values)
    assert tracing_enabled() is enabled
    assert Orchestrator(DjangoStore()).run_config(resolve_provider()).tracing_disabled is (
        not enabled
    )


@pytest.mark.parametrize(
    "base_url, enabled",
    [
        ("https://api.openai.com/v1", True),
        ("https://eu.api.openai.com/v1/", True),
        ("http://127.0.0.1:4000/v1/", False),  # a proxy (LiteLLM...): its key is not OpenAI's
        ("https://llm-gateway.example.com/v1/", False),
    ],
)
def test_tracing_follows_where_the_openai_key_goes(settings, base_url, enabled):
    provider_settings(settings, LLM_PROVIDER="openai", OPENAI_API_KEY=KEY, LLM_BASE_URL=base_url)
    assert tracing_enabled() is enabled


def test_no_trace_key_is_set_without_an_openai_key(settings, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(
        "chatkit_backend.providers.factory.set_tracing_export_api_key",
        lambda key: calls.append(key),
    )
    provider_settings(settings, LLM_PROVIDER="gemini", GEMINI_API_KEY=KEY, OPENAI_API_KEY=None)
    create_model()
    provider_settings(settings, LLM_PROVIDER="openai", OPENAI_API_KEY=KEY, TRACING=False)
    create_model()
    assert calls == []
    provider_settings(settings, LLM_PROVIDER="openai", OPENAI_API_KEY=KEY)
    create_model()
    assert calls == [KEY]


# -- three turns through each provider ------------------------------------------------------


@each_provider
def test_three_turns_persist_three_distinct_answers(
    chatkit_client, settings, server, responses, logs, case
):
    configure(settings, case, server.base_url)
    answers = ["Alpha is the first answer", "Bravo is the second one", "Charlie closes it"]
    server.script(*answers)

    first = chatkit_client.create_thread("Question one")
    second = chatkit_client.send(first.thread_id, "Question two")
    third = chatkit_client.send(first.thread_id, "Question three")

    for result, answer in zip((first, second, third), answers, strict=True):
        assert result.errors == []
        assert result.assistant_text == answer
        assert len(result.text_deltas) >= 3  # streamed, not delivered in one piece
    page = chatkit_client.list_items(first.thread_id, order="asc")
    assert [item.type for item in page.data] == ["user_message", "assistant_message"] * 3
    stored = [item for item in page.data if item.type == "assistant_message"]
    assert ["".join(part.text for part in item.content) for item in stored] == answers
    ids = [item.id for item in stored]
    assert len(set(ids)) == 3
    assert PLACEHOLDER_ID not in ids
    assert ids == [r.assistant_messages[0].id for r in (first, second, third)]

    requests = server.model_requests()
    assert len(requests) == 3
    for request in requests:
        assert request.path == case.path
        assert request.bearer == KEY
        assert request.json["model"] == case.model
        assert request.json["stream"] is True
    assert conversation(case, requests[2].json) == [
        ("user", "Question one"),
        ("assistant", answers[0]),
        ("user", "Question two"),
        ("assistant", answers[1]),
        ("user", "Question three"),
    ]
    if case.chat:  # Chat Completions refuse output_text parts: plain strings
        messages = requests[2].json["messages"]
        assert messages[0] == {"role": "system", "content": messages[0]["content"]}
        assert all(isinstance(m["content"], str) for m in messages if m["role"] == "assistant")

    usage = list(models.TurnUsage.objects.filter(thread_id=first.thread_id).order_by("id"))
    assert [(row.provider, row.model, row.requests) for row in usage] == [
        (case.provider, case.model, 1)
    ] * 3
    assert all(row.input_tokens > 0 and row.output_tokens > 0 for row in usage)
    assert usage[2].input_tokens > usage[0].input_tokens  # the history grew
    assert_key_never_leaks(responses, logs)


def test_gemini_goes_to_llm_base_url_with_the_gemini_key(
    chatkit_client, settings, server, responses, logs
):
    configure(settings, CASES["gemini"], server.base_url, OPENAI_API_KEY=OTHER_KEY)
    result = chatkit_client.create_thread("Hello Gemini")
    assert result.errors == []
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert OTHER_KEY not in repr(request.headers)
    assert request.json["model"] == "gemini-2.5-flash"
    assert_key_never_leaks(responses, logs, KEY, OTHER_KEY)


def test_openai_compatible_needs_no_key(chatkit_client, settings, server):
    provider_settings(
        settings,
        LLM_PROVIDER="openai_compatible",
        LLM_BASE_URL=server.base_url,
        LLM_MODEL="qwen2.5",
    )
    result = chatkit_client.create_thread("Hello local model")
    assert result.errors == []
    assert result.assistant_text == "Fake answer 1."
    [request] = server.requests
    assert request.bearer == PLACEHOLDER_KEY
    assert request.json["model"] == "qwen2.5"


@pytest.mark.parametrize("case", [CASES["openai"], CASES["gemini"]], ids=["openai", "gemini"])
def test_the_agents_model_name_goes_through_the_provider(chatkit_client, settings, server, case):
    configure(settings, case, server.base_url)
    agent = Agent(name="Named", instructions="Be brief.", model="my-fine-tune")
    with override_agent(agent):
        result = chatkit_client.create_thread("Hi")
    assert result.errors == []
    assert server.requests[0].json["model"] == "my-fine-tune"
    [usage] = models.TurnUsage.objects.filter(thread_id=result.thread_id)
    assert usage.model == "my-fine-tune"


# -- failures -------------------------------------------------------------------------------

FAILURES = {
    "401": "rejected the API key (HTTP 401). Check {key_setting} on the server.",
    "429": "is rate limiting requests or the quota is used up (HTTP 429).",
    "500": "had an internal error (HTTP 500).",
    "refused": "could not be reached. Check LLM_BASE_URL",
    "timeout": "did not answer in time. Try again, or raise LLM_TIMEOUT.",
}


def assert_clear_error(result, case: Case, expected: str) -> ErrorEvent:
    [error] = result.errors
    assert error.code == "custom"
    assert error.allow_retry is True
    assert error.message.startswith(f"The model provider ({case.provider})")
    assert expected.format(key_setting=case.key_setting) in error.message
    assert result.assistant_messages == []
    return error


@each_provider
@pytest.mark.parametrize("failure", list(FAILURES))
def test_failure_gives_a_clear_error_keeps_the_message_and_retry_succeeds(
    chatkit_client, settings, server, responses, logs, case, failure
):
    if failure == "refused":
        configure(settings, case, f"http://127.0.0.1:{free_port()}/v1/")
    elif failure == "timeout":
        configure(settings, case, server.base_url, LLM_TIMEOUT=0.5)
        server.hang_next(10)
    else:
        configure(settings, case, server.base_url)
        server.fail_next(int(failure))
    server.script("Recovered answer")

    first = chatkit_client.create_thread("Please answer me")
    assert_clear_error(first, case, FAILURES[failure])
    page = chatkit_client.list_items(first.thread_id, order="asc")
    [user_message] = page.data
    assert user_message.type == "user_message"
    assert user_message.content[0].text == "Please answer me"

    configure(settings, case, server.base_url)
    retried = chatkit_client.retry(first.thread_id, user_message.id)
    assert retried.errors == []
    assert retried.assistant_text == "Recovered answer"
    page = chatkit_client.list_items(first.thread_id, order="asc")
    assert [item.type for item in page.data] == ["user_message", "assistant_message"]
    assert page.data[0].id == user_message.id
    assert conversation(case, server.model_requests()[-1].json) == [("user", "Please answer me")]
    assert server.model_requests()[-1].bearer == KEY
    assert_key_never_leaks(responses, logs)


@pytest.mark.parametrize("case", [CASES["openai"], CASES["gemini"]], ids=["openai", "gemini"])
def test_a_failed_later_turn_keeps_the_earlier_exchange(
    chatkit_client, settings, server, responses, logs, case
):
    configure(settings, case, server.base_url)
    server.script("First answer")
    first = chatkit_client.create_thread("First question")
    server.fail_next(500)
    failed = chatkit_client.send(first.thread_id, "Second question")
    assert_clear_error(failed, case, FAILURES["500"])
    page = chatkit_client.list_items(first.thread_id, order="asc")
    assert [item.type for item in page.data] == [
        "user_message",
        "assistant_message",
        "user_message",
    ]
    server.script("Second answer")
    retried = chatkit_client.retry(first.thread_id, page.data[2].id)
    assert retried.assistant_text == "Second answer"
    assert conversation(case, server.model_requests()[-1].json) == [
        ("user", "First question"),
        ("assistant", "First answer"),
        ("user", "Second question"),
    ]
    assert_key_never_leaks(responses, logs)


MID_STREAM = {
    "stall": "did not answer in time",
    "drop": "could not be reached",
    "error": "",
}


@each_provider
@pytest.mark.parametrize("mishap", list(MID_STREAM))
def test_failure_in_the_middle_of_the_stream(
    chatkit_client, settings, server, responses, logs, case, mishap
):
    configure(settings, case, server.base_url, LLM_TIMEOUT=0.5)
    server.script("This answer never gets to its end", "Recovered after all")
    if mishap == "stall":
        server.hang_next(10, after_events=4)
    elif mishap == "drop":
        server.drop_next(after_events=4)
    else:
        server.error_next(after_events=4)
    first = chatkit_client.create_thread("Tell me something")
    error = assert_clear_error(first, case, MID_STREAM[mishap])
    assert "failed while answering" not in error.message  # the provider's words stay out
    page = chatkit_client.list_items(first.thread_id, order="asc")
    assert [item.type for item in page.data] == ["user_message"]
    retried = chatkit_client.retry(first.thread_id, page.data[0].id)
    assert retried.errors == []
    assert retried.assistant_text == "Recovered after all"
    assert_key_never_leaks(responses, logs)


@pytest.mark.parametrize("case", [CASES["openai"], CASES["gemini"]], ids=["openai", "gemini"])
def test_llm_max_retries_is_honoured(chatkit_client, settings, server, case):
    configure(settings, case, server.base_url, LLM_MAX_RETRIES=2)
    server.fail_next(429)
    server.fail_next(500)
    server.script("Third time lucky")
    result = chatkit_client.create_thread("Try hard")
    assert result.errors == []
    assert result.assistant_text == "Third time lucky"
    assert len(server.model_requests()) == 3


@pytest.mark.parametrize(
    "status, expected",
    [
        (403, "refused access (HTTP 403). Check that GEMINI_API_KEY may use this model."),
        (404, "does not know the model or endpoint (HTTP 404)"),
        (400, "refused the request (HTTP 400)."),
        (503, "had an internal error (HTTP 503)."),
    ],
)
def test_other_statuses_have_messages_too(chatkit_client, settings, server, status, expected):
    configure(settings, CASES["gemini"], server.base_url)
    server.fail_next(status)
    result = chatkit_client.create_thread("Hi")
    assert_clear_error(result, CASES["gemini"], expected)


# -- configuration problems -----------------------------------------------------------------


@pytest.mark.parametrize(
    "values, expected",
    [
        (
            {"LLM_PROVIDER": "anthropic"},
            "LLM_PROVIDER='anthropic' is not one of: openai, gemini, openai_compatible, offline.",
        ),
        ({"LLM_PROVIDER": "openai"}, "LLM_PROVIDER=openai needs OPENAI_API_KEY."),
        (
            {"LLM_PROVIDER": "gemini", "OPENAI_API_KEY": KEY},
            "LLM_PROVIDER=gemini needs GEMINI_API_KEY.",
        ),
        (
            {"LLM_PROVIDER": "openai_compatible", "LLM_MODEL": "m"},
            "LLM_PROVIDER=openai_compatible needs LLM_BASE_URL.",
        ),
        (
            {"LLM_PROVIDER": "openai_compatible", "LLM_BASE_URL": "BASE"},
            "LLM_PROVIDER=openai_compatible needs LLM_MODEL.",
        ),
        (
            {"LLM_PROVIDER": "openai_compatible"},
            "LLM_PROVIDER=openai_compatible needs LLM_BASE_URL. "
            "LLM_PROVIDER=openai_compatible needs LLM_MODEL.",
        ),
    ],
    ids=["unknown", "openai-no-key", "gemini-no-key", "no-base-url", "no-model", "neither"],
)
def test_configuration_problems_give_an_error_event_not_a_traceback(
    chatkit_client, settings, server, responses, logs, values, expected
):
    values = {k: server.base_url if v == "BASE" else v for k, v in values.items()}
    provider_settings(settings, **values)
    result = chatkit_client.create_thread("Hello?")
    [error] = result.errors
    assert error.code == "custom"
    assert error.message == f"The model provider is not configured: {expected}"
    assert result.assistant_messages == []
    page = chatkit_client.list_items(result.thread_id, order="asc")
    assert [item.type for item in page.data] == ["user_message"]
    assert server.requests == []
    assert "Traceback" not in logs.text
    ours = [r for r in logs.records if r.name.split(".")[0] in ("chatkit", "chatkit_backend")]
    assert not [r for r in ours if r.levelno >= logging.ERROR or r.exc_info]
    with pytest.raises(ProviderConfigurationError, match=r"needs|not one of"):
        create_model()
    assert_key_never_leaks(responses, logs)


# -- create_model() -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, model_class, name, base_url",
    [
        (
            {"LLM_PROVIDER": "openai", "OPENAI_API_KEY": KEY},
            OpenAIResponsesModel,
            "gpt-4.1-mini",
            "https://api.openai.com/v1/",
        ),
        (
            {"LLM_PROVIDER": "gemini", "GEMINI_API_KEY": KEY},
            OpenAIChatCompletionsModel,
            "gemini-2.5-flash",
            GEMINI_BASE_URL,
        ),
        (
            {
                "LLM_PROVIDER": "openai_compatible",
                "LLM_BASE_URL": "http://127.0.0.1:11434/v1/",
                "LLM_MODEL": "llama3.1",
            },
            OpenAIChatCompletionsModel,
            "llama3.1",
            "http://127.0.0.1:11434/v1/",
        ),
        ({"LLM_PROVIDER": "offline"}, OfflineModel, "offline-demo", None),
    ],
    ids=["openai", "gemini", "openai_compatible", "offline"],
)
def test_create_model_per_provider(settings, values, model_class, name, base_url):
    provider_settings(settings, **values)
    model = create_model()
    assert isinstance(model, model_class)
    if isinstance(model, OfflineModel):
        assert model.name == name
        return
    assert model.model == name
    client = model._client
    assert str(client.base_url) == base_url
    key = values.get("OPENAI_API_KEY") or values.get("GEMINI_API_KEY") or PLACEHOLDER_KEY
    assert client.api_key == key


@pytest.mark.parametrize("provider", ["openai", "gemini", "offline"])
def test_llm_model_and_the_agents_model_name_win_over_the_default(settings, provider):
    provider_settings(
        settings, LLM_PROVIDER=provider, OPENAI_API_KEY=KEY, GEMINI_API_KEY=KEY, LLM_MODEL="m-1"
    )

    def name_of(model):
        return model.name if isinstance(model, OfflineModel) else model.model

    assert name_of(create_model()) == "m-1"
    assert name_of(create_model("m-2")) == "m-2"
    assert name_of(ChatKitModelProvider().get_model("m-3")) == "m-3"
    assert name_of(ChatKitModelProvider().get_model(None)) == "m-1"


def test_timeout_and_retries_reach_the_client(settings):
    provider_settings(
        settings,
        LLM_PROVIDER="gemini",
        GEMINI_API_KEY=KEY,
        LLM_BASE_URL="http://127.0.0.1:9/v1/",
        LLM_TIMEOUT=7,
        LLM_MAX_RETRIES=3,
    )
    client = create_model()._client
    assert client.timeout == 7.0
    assert client.max_retries == 3
    assert client.api_key == KEY
    assert str(client.base_url) == "http://127.0.0.1:9/v1/"


def test_settings_win_over_the_environment(settings, monkeypatch):
    monkeypatch.setenv("LLM_PROVIDER", "gemini")
    monkeypatch.setenv("GEMINI_API_KEY", "env-gemini-key")
    monkeypatch.setenv("OPENAI_API_KEY", "env-openai-key")
    monkeypatch.setenv("LLM_MODEL", "env-model")
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:1/env/")
    provider_settings(
        settings,
        LLM_PROVIDER="openai",
        OPENAI_API_KEY="settings-openai-key",
        LLM_MODEL="settings-model",
        LLM_BASE_URL="http://127.0.0.1:2/settings/",
    )
    config = resolve_provider()
    assert (config.provider, config.api_key, config.model, config.base_url) == (
        "openai",
        "settings-openai-key",
        "settings-model",
        "http://127.0.0.1:2/settings/",
    )
    model = create_model()
    assert isinstance(model, OpenAIResponsesModel)
    assert model._client.api_key == "settings-openai-key"


def test_the_environment_fills_what_settings_leave_out(settings, monkeypatch):
    monkeypatch.setenv("LLM_PROVIDER", " Gemini ")
    monkeypatch.setenv("GEMINI_API_KEY", "env-gemini-key")
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:3/v1/")
    provider_settings(settings, LLM_MODEL="settings-model")
    config = resolve_provider()
    assert (config.provider, config.api_key, config.model, config.base_url) == (
        "gemini",
        "env-gemini-key",
        "settings-model",
        "http://127.0.0.1:3/v1/",
    )
    model = create_model()
    assert isinstance(model, OpenAIChatCompletionsModel)
    assert str(model._client.base_url) == "http://127.0.0.1:3/v1/"


@pytest.mark.parametrize(
    "environment, provider",
    [
        ({}, "offline"),
        ({"OPENAI_API_KEY": KEY}, "openai"),
        ({"GEMINI_API_KEY": KEY}, "gemini"),
        ({"OPENAI_API_KEY": KEY, "GEMINI_API_KEY": KEY}, "openai"),
        ({"LLM_PROVIDER": "  ", "GEMINI_API_KEY": KEY}, "gemini"),
    ],
)
def test_without_llm_provider_the_keys_decide(settings, monkeypatch, environment, provider):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    provider_settings(settings)
    assert resolve_provider().provider == provider


def test_the_key_never_shows_in_the_config_repr(settings):
    provider_settings(settings, LLM_PROVIDER="openai", OPENAI_API_KEY=KEY)
    config = resolve_provider()
    assert KEY not in repr(config)
    assert KEY not in str(config)
    assert "***" in repr(config)


async def test_one_client_per_configuration_on_a_loop(settings):
    provider_settings(settings, LLM_PROVIDER="gemini", GEMINI_API_KEY=KEY)
    first, second = create_model(), create_model("other-model")
    assert first._client is second._client
    provider_settings(settings, LLM_PROVIDER="gemini", GEMINI_API_KEY=OTHER_KEY)
    assert create_model()._client is not first._client


# -- tool calls through real providers ------------------------------------------------------

order_lookups: list[str] = []


@function_tool
def lookup_order(order_id: str) -> str:
    """Find where an order is."""
    order_lookups.append(order_id)
    return f"Order {order_id} ships tomorrow"


@each_provider
def test_a_tool_call_round_trip_then_another_turn(chatkit_client, settings, server, case):
    order_lookups.clear()
    configure(settings, case, server.base_url)
    call = ToolCall("lookup_order", '{"order_id": "A42"}', thought_signature="c2lnbmF0dXJl")
    server.script(call, "Your order A42 ships tomorrow.", "You are welcome.")
    agent = Agent(name="Shop", instructions="Help with orders.", tools=[lookup_order])
    with override_agent(agent):
        first = chatkit_client.create_thread("Where is order A42?")
        second = chatkit_client.send(first.thread_id, "Thanks!")
    assert first.errors == [] and second.errors == []
    assert order_lookups == ["A42"]
    assert first.assistant_text == "Your order A42 ships tomorrow."
    assert second.assistant_text == "You are welcome."

    requests = server.model_requests()
    assert len(requests) == 3
    assert requests[0].json["tools"][0]["name" if not case.chat else "function"]
    continuation = requests[1].json
    if case.chat:
        assistant = next(m for m in continuation["messages"] if m.get("tool_calls"))
        [tool_call] = assistant["tool_calls"]
        assert tool_call["id"] == call.call_id
        assert tool_call["function"] == {"name": "lookup_order", "arguments": call.arguments}
        if case.provider == "gemini":  # Gemini 3 needs its thought signature back
            assert tool_call["extra_content"] == {"google": {"thought_signature": "c2lnbmF0dXJl"}}
        tool = next(m for m in continuation["messages"] if m["role"] == "tool")
        assert tool == {
            "role": "tool",
            "tool_call_id": call.call_id,
            "content": "Order A42 ships tomorrow",
        }
    else:
        by_type = {item.get("type"): item for item in continuation["input"]}
        assert by_type["function_call"]["call_id"] == call.call_id
        assert by_type["function_call"]["arguments"] == call.arguments
        assert by_type["function_call_output"] == {
            "type": "function_call_output",
            "call_id": call.call_id,
            "output": "Order A42 ships tomorrow",
        }
    assert conversation(case, requests[2].json) == [
        ("user", "Where is order A42?"),
        ("assistant", "Your order A42 ships tomorrow."),
        ("user", "Thanks!"),
    ]
    page = chatkit_client.list_items(first.thread_id, order="asc")
    messages = [item for item in page.data if item.type == "assistant_message"]
    assert len({item.id for item in messages}) == 2


@function_tool
async def read_selection(ctx: RunContextWrapper[AgentContext]) -> None:
    """Ask the browser for the text the user selected."""
    ctx.context.client_tool_call = ClientToolCall(name="read_selection", arguments={"max": 100})


def client_tool_agent() -> Agent:
    return Agent(
        name="Editor",
        instructions="Help with the selected text.",
        tools=[read_selection],
        tool_use_behavior=StopAtTools(stop_at_tool_names=["read_selection"]),
    )


@each_provider
def test_a_client_tool_call_continues_from_stored_history(chatkit_client, settings, case):
    """The continuation is rebuilt from stored items; Gemini 3 wants its signature back.

    ``ClientToolCallItem`` has no room for the signature the model made, so the history
    sends Google's documented placeholder that tells Gemini to skip the check.
    """
    model = "gemini-3-pro-preview" if case.provider == "gemini" else case.model
    with FakeProvider(require_thought_signatures=case.provider == "gemini") as server:
        configure(settings, case, server.base_url, LLM_MODEL=model)
        call = ToolCall("read_selection", "{}", thought_signature="Z2VtaW5pLTM=")
        server.script(call, "You selected 'hello'.")
        with override_agent(client_tool_agent()):
            first = chatkit_client.create_thread("What did I select?")
            assert first.errors == []
            [pending] = [item for item in first.items if isinstance(item, ClientToolCallItem)]
            assert pending.status == "pending"
            second = chatkit_client.client_tool_output(first.thread_id, {"text": "hello"})
        assert second.errors == []
        assert second.assistant_text == "You selected 'hello'."
        continuation = server.model_requests()[-1].json
    if case.chat:
        assistant = next(m for m in continuation["messages"] if m.get("tool_calls"))
        [tool_call] = assistant["tool_calls"]
        assert tool_call["function"]["name"] == "read_selection"
        tool = next(m for m in continuation["messages"] if m["role"] == "tool")
        assert json.loads(tool["content"]) == {"text": "hello"}
        if case.provider == "gemini":
            signature = tool_call["extra_content"]["google"]["thought_signature"]
            assert signature == "skip_thought_signature_validator"
    else:
        items = continuation["input"]
        assert all("provider_data" not in item for item in items)  # OpenAI would refuse it
        output = next(item for item in items if item.get("type") == "function_call_output")
        assert json.loads(output["output"]) == {"text": "hello"}


# -- the fake itself ------------------------------------------------------------------------


def sse_payloads(body: bytes) -> list[str]:
    return [
        line[len("data: ") :] for line in body.decode().splitlines() if line.startswith("data: ")
    ]


@pytest.mark.parametrize("step", ["Three little words", ToolCall("f", '{"a": 1}')])
def test_the_fake_speaks_both_wire_formats_strictly(server, step):
    """Each event validates against the ``openai`` package's own types, not only leniently."""
    server.script(step, step)
    with httpx.Client(base_url=server.url, timeout=5) as http:
        responses_body = http.post("/v1/responses", json={"model": "m", "stream": True}).content
        chat_body = http.post("/v1/chat/completions", json={"model": "m", "stream": True}).content
    events = [RESPONSE_EVENT.validate_json(data) for data in sse_payloads(responses_body)]
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.total_tokens > 0
    if isinstance(step, str):
        assert [e.type for e in events[1:]] == [
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            *["response.output_text.delta"] * 3,
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    *chunks, done = sse_payloads(chat_body)
    assert done == "[DONE]"
    parsed = [ChatCompletionChunk.model_validate_json(data) for data in chunks]
    assert parsed[-1].choices == [] and parsed[-1].usage.total_tokens > 0
    finish = [c.choices[0].finish_reason for c in parsed if c.choices]
    assert finish[-1] == ("stop" if isinstance(step, str) else "tool_calls")
    assert len(server.requests) == 2
    assert server.requests[0].json == {"model": "m", "stream": True}


# -- request settings fit the model in use ------------------------------------------------------

REASONING_FIELDS = ("reasoning", "reasoning_effort", "verbosity")


def reasoning_sent(body: dict[str, Any]) -> dict[str, Any]:
    """What a model request says about reasoning and verbosity, in either wire format."""
    sent = {name: body[name] for name in REASONING_FIELDS if name in body}
    if "verbosity" in (body.get("text") or {}):
        sent["text.verbosity"] = body["text"]["verbosity"]
    return sent


@each_provider
def test_a_model_without_reasoning_gets_no_reasoning_settings(
    chatkit_client, settings, server, case
):
    """The default agent names no model; the Agents SDK's GPT-5 defaults must not follow it
    to gpt-4.1-mini, Gemini or a local model, which refuse them (HTTP 400)."""
    configure(settings, case, server.base_url)
    result = chatkit_client.create_thread("Hello")
    assert result.errors == []
    [request] = server.model_requests()
    assert request.json["model"] == case.model
    assert reasoning_sent(request.json) == {}


@pytest.mark.parametrize(
    "model, expected",
    [
        ("gpt-5", {"reasoning": {"effort": "low"}, "text.verbosity": "low"}),
        ("gpt-5.2", {"reasoning": {"effort": "none"}, "text.verbosity": "low"}),
        ("gpt-5-chat-latest", {}),
    ],
)
def test_a_gpt5_model_gets_the_settings_the_sdk_gives_it(
    chatkit_client, settings, server, model, expected
):
    configure(settings, CASES["openai"], server.base_url, LLM_MODEL=model)
    result = chatkit_client.create_thread("Hello")
    assert result.errors == []
    [request] = server.model_requests()
    assert request.json["model"] == model
    assert reasoning_sent(request.json) == expected


@each_provider
def test_settings_an_agent_sets_are_sent_as_set(chatkit_client, settings, server, case):
    configure(settings, case, server.base_url)
    agent = Agent(
        name="Deliberate",
        instructions="Think.",
        model_settings=ModelSettings(reasoning=Reasoning(effort="high"), temperature=0.2),
    )
    with override_agent(agent):
        result = chatkit_client.create_thread("Hello")
    assert result.errors == []
    [request] = server.model_requests()
    assert request.json["temperature"] == 0.2
    if case.chat:
        assert reasoning_sent(request.json) == {"reasoning_effort": "high"}
    else:
        assert reasoning_sent(request.json) == {"reasoning": {"effort": "high"}}


def test_a_handoff_without_a_model_gets_settings_for_the_model_in_use(
    chatkit_client, settings, server
):
    configure(settings, CASES["gemini"], server.base_url)
    specialist = Agent(name="Specialist", instructions="Answer.")
    triage = Agent(name="Triage", instructions="Hand off.", handoffs=[specialist])
    server.script(ToolCall("transfer_to_specialist", "{}"), "Specialist here.")
    with override_agent(triage):
        result = chatkit_client.create_thread("Help")
    assert result.errors == []
    assert result.assistant_text == "Specialist here."
    requests = server.model_requests()
    assert len(requests) == 2
    assert [reasoning_sent(request.json) for request in requests] == [{}, {}]


def test_a_refused_request_logs_the_providers_reason_without_the_key(
    chatkit_client, settings, server, responses, logs
):
    configure(settings, CASES["openai"], server.base_url)
    server.fail_next(400)
    result = chatkit_client.create_thread("Hello")
    assert_clear_error(result, CASES["openai"], "refused the request (HTTP 400).")
    [record] = [
        r for r in logs.records if "HTTP 400" in r.getMessage() and "invalid" in r.getMessage()
    ]
    assert record.name.startswith("chatkit_backend")
    assert record.levelno == logging.WARNING
    assert "The request is invalid." in record.getMessage()
    assert_key_never_leaks(responses, logs)


@pytest.mark.parametrize("case", [CASES["openai"], CASES["gemini"]], ids=["openai", "gemini"])
def test_a_401_logs_the_reason_with_the_quoted_key_masked(
    chatkit_client, settings, server, responses, logs, case
):
    """The fake quotes the key back in full (the worst case): the log shows the reason only."""
    configure(settings, case, server.base_url)
    server.fail_next(401)
    result = chatkit_client.create_thread("Hello")
    assert_clear_error(result, case, FAILURES["401"])
    assert any(
        "HTTP 401" in r.getMessage() and "Incorrect API key provided" in r.getMessage()
        for r in logs.records
    )
    assert_key_never_leaks(responses, logs)
