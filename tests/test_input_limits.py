"""Bounded input: free-form JSON, what a request adds to model input, and who may send a body.

Every streaming op here runs over real HTTP against the live ASGI server (uvicorn in a
thread): the defects these tests pin down showed there as streams that broke half-way, left
threads that could no longer be read, or fed the model what no limit covered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeVar, get_args, get_type_hints

import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from chatkit.types import (
    ChatKitReq,
    ClientToolCallItem,
    Page,
    Thread,
    UserMessageTagContent,
    WidgetItem,
)
from pydantic import BaseModel

from chatkit_backend import models
from chatkit_backend.intake.limits import FREE_FORM, fields_of
from chatkit_backend.reasoning.tags import tag_text
from chatkit_backend.server import DjangoChatKitServer
from chatkit_backend.testing import ChatKitClient, LiveServer, message_input, override_agent
from tests.support.agents import tools_agent
from tests.support.db import snapshot

pytestmark = pytest.mark.django_db(transaction=True)

API = "/chatkit/api"


def nested(depth: int, leaf: Any = "leaf") -> Any:
    """A JSON value ``depth`` objects deep (``depth`` 0 is the leaf itself)."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def tag(data: Any, text: str = "tag") -> dict[str, Any]:
    return {"type": "input_tag", "id": "tag_1", "text": text, "data": data}


def with_content(*parts: dict[str, Any], quoted_text: str | None = None) -> dict[str, Any]:
    value = {"content": list(parts), "attachments": [], "inference_options": {}}
    if quoted_text is not None:
        value["quoted_text"] = quoted_text
    return value


def limit_settings(settings, **values: Any) -> None:
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, **values}


@pytest.fixture
def api(live_asgi: LiveServer, chatkit_user) -> ChatKitClient:
    return live_asgi.chatkit(chatkit_user)


@pytest.fixture
def thread_id(api: ChatKitClient, model: ScriptedModel) -> str:
    model.enqueue([assistant_message("first answer")])
    return api.create_thread("hello").thread_id


def assert_refused(response, status: int, code: str) -> None:
    assert response.status == status, response.content[:500]
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]


def assert_refused_whole(api: ChatKitClient, body: Any, code: str, model: ScriptedModel) -> None:
    """``body`` gets a 400 ``code``, the database is as it was, and the model never ran."""
    before = snapshot()
    assert_refused(api.post(json.dumps(body)), 400, code)
    assert snapshot() == before
    assert not model.calls


def assert_thread_reads(api: ChatKitClient, thread_id: str) -> Thread:
    """``threads.get_by_id`` and ``items.list`` still answer, parsed as the widget parses them."""
    thread = api.get_thread(thread_id)
    items = api.list_items(thread_id)
    assert isinstance(items, Page)
    return thread


# -- 8. deep nesting inside a valid body ------------------------------------------------------


@pytest.mark.parametrize("depth", [252, 300])
def test_a_deeply_nested_tag_is_refused_and_the_thread_still_reads(api, thread_id, model, depth):
    # Before: the tag was stored, the stream broke, and from then on threads.get_by_id
    # answered 400 "Error serializing to JSON" for this thread (252-255 levels); deeper, the
    # turn broke after writing an empty thread.
    before = snapshot()
    response = api.request(
        "threads.add_user_message",
        thread_id=thread_id,
        input=with_content({"type": "input_text", "text": "look"}, tag(nested(depth))),
    )
    assert_refused(response, 400, "json_too_deep")
    assert snapshot() == before
    assert len(model.calls) == 1  # the thread's first turn; the refused one never ran
    assert [item.type for item in assert_thread_reads(api, thread_id).items.data] == [
        "user_message",
        "assistant_message",
    ]


@pytest.mark.parametrize("depth", [252, 300])
def test_a_deeply_nested_tag_in_a_new_thread_leaves_no_thread_behind(api, model, depth):
    response = api.request("threads.create", input=with_content(tag(nested(depth))))
    assert_refused(response, 400, "json_too_deep")
    assert snapshot() == ([], [], [])
    assert api.list_threads().data == []


def _free_form_bodies(thread: str, item: str | None, value: Any) -> dict[str, dict[str, Any]]:
    """One body per free-form field a client can send, each carrying ``value`` there."""
    create = {"input": message_input("hi")}
    return {
        "metadata of a JSON op": {"type": "threads.list", "params": {}, "metadata": value},
        "metadata of a streaming op": {
            "type": "threads.create",
            "params": create,
            "metadata": value,
        },
        "tag data": {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread, "input": with_content(tag(value))},
        },
        "action payload": {
            "type": "threads.custom_action",
            "params": {
                "thread_id": thread,
                "item_id": item,
                "action": {"type": "go", "payload": value},
            },
        },
        "sync action payload": {
            "type": "threads.sync_custom_action",
            "params": {
                "thread_id": thread,
                "item_id": item,
                "action": {"type": "go", "payload": value},
            },
        },
    }


FREE_FORM_FIELDS = list(_free_form_bodies("t", None, {}))


@pytest.fixture
def widget_thread(api: ChatKitClient) -> tuple[str, str]:
    """A thread whose last item is a widget (the sender of widget actions)."""
    model = ScriptedModel()
    with override_agent(tools_agent(model)):
        model.extend(
            [[function_call("show_choice", {}, call_id="call_card")], [assistant_message("Shown.")]]
        )
        result = api.create_thread("Show me the card")
    widget = next(item for item in result.items if isinstance(item, WidgetItem))
    return result.thread_id, widget.id


@pytest.mark.parametrize("field", FREE_FORM_FIELDS)
def test_free_form_json_deeper_than_the_limit_is_refused(
    api, widget_thread, model, settings, field
):
    limit_settings(settings, MAX_JSON_DEPTH=8)
    thread, item = widget_thread
    too_deep = _free_form_bodies(thread, item, {"k": nested(8)})[field]  # 9 levels
    assert_refused_whole(api, too_deep, "json_too_deep", model)
    assert_thread_reads(api, thread)


@pytest.mark.parametrize("field", FREE_FORM_FIELDS)
def test_free_form_json_larger_than_the_limit_is_refused(
    api, widget_thread, model, settings, field
):
    limit_settings(settings, MAX_JSON_CHARS=1000, MAX_MESSAGE_CHARS=100_000)
    thread, item = widget_thread
    too_large = _free_form_bodies(thread, item, {"k": "x" * 1000})[field]
    assert_refused_whole(api, too_large, "json_too_large", model)


def test_free_form_json_within_the_limits_works(api, widget_thread, model, settings):
    limit_settings(settings, MAX_JSON_DEPTH=8, MAX_JSON_CHARS=1000)
    thread, _ = widget_thread
    value = {"k": nested(7, leaf="x" * 800)}  # 8 levels, under 1000 characters
    model.enqueue([assistant_message("seen")])
    result = api.stream(
        "threads.add_user_message",
        thread_id=thread,
        input=with_content({"type": "input_text", "text": "see"}, tag(value)),
    )
    assert result.errors == [] and result.assistant_text == "seen"
    stored = assert_thread_reads(api, thread).items.data
    assert stored[-2].content[1].data == value


def test_a_client_tool_result_is_bounded_like_other_free_form_json(api, settings):
    limit_settings(settings, MAX_JSON_DEPTH=8)
    model = ScriptedModel()
    with override_agent(tools_agent(model)):
        model.enqueue([function_call("read_selection", {}, call_id="call_sel")])
        first = api.create_thread("What did I select?")
        assert any(isinstance(item, ClientToolCallItem) for item in first.items)
        before = snapshot()
        response = api.request(
            "threads.add_client_tool_output", thread_id=first.thread_id, result=nested(9)
        )
        assert_refused(response, 400, "json_too_deep")
        assert snapshot() == before
        # The call still waits for its output, and a fitting one is taken.
        model.enqueue([assistant_message("You selected 'hello'.")])
        second = api.client_tool_output(first.thread_id, {"text": "hello"})
    assert second.assistant_text == "You selected 'hello'."


def test_too_many_json_values_are_refused_before_validation(api, settings):
    limit_settings(settings, MAX_JSON_VALUES=100)
    parts = [{"type": "input_text", "text": ""}] * 40  # 1 + 40 * 2 values in the content alone
    response = api.request("threads.create", input=with_content(*parts))
    assert_refused(response, 400, "too_many_values")
    assert snapshot() == ([], [], [])


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models_in(arg)


def _request_models() -> set[type[BaseModel]]:
    """Every model a ChatKit request body can contain."""
    seen: set[type[BaseModel]] = set()
    stack = list(_models_in(ChatKitReq))
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            hints = get_type_hints(model)
            annotation = info.annotation if name not in hints else hints[name]
            if isinstance(annotation, TypeVar):
                annotation = info.annotation
            stack.extend(_models_in(annotation))
    return seen


def test_every_free_form_field_of_the_protocol_is_found():
    # The limits find free-form fields from chatkit's own types; a new one in a later chatkit
    # must not slip past them, and none may hide behind an unresolved annotation.
    found = {
        (model.__name__, key)
        for model in _request_models()
        for _, key, kind in fields_of(model)
        if kind == FREE_FORM
    }
    requests = {model.__name__ for model in _models_in(ChatKitReq)}
    assert {name for name, key in found if key == "metadata"} == requests
    assert {item for item in found if item[1] != "metadata"} == {
        ("UserMessageTagContent", "data"),
        ("Action[str, Any]", "payload"),
        ("ThreadAddClientToolOutputParams", "result"),
    }


# -- 9. everything a request adds to model input is bounded -----------------------------------


def _model_input_bodies(thread: str, item: str, size: int) -> dict[str, dict[str, Any]]:
    """One body per way a request adds to model input, adding about ``size`` characters."""
    half = "y" * ((size + 1) // 2)
    return {
        "text": {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread, "input": message_input("x" * size)},
        },
        "text and quoted text": {
            "type": "threads.add_user_message",
            "params": {
                "thread_id": thread,
                "input": with_content({"type": "input_text", "text": half}, quoted_text=half),
            },
        },
        "tag data": {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread, "input": with_content(tag({"note": "x" * size}))},
        },
        "tag text": {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread, "input": with_content(tag({}, text="x" * size))},
        },
        "action payload": {
            "type": "threads.custom_action",
            "params": {
                "thread_id": thread,
                "item_id": item,
                "action": {"type": "go", "payload": {"note": "x" * size}},
            },
        },
    }


MODEL_INPUTS = list(_model_input_bodies("t", "i", 10))


@pytest.mark.parametrize("way", MODEL_INPUTS)
def test_model_input_past_the_limit_is_refused_whichever_field_carries_it(
    api, widget_thread, model, settings, way
):
    # Before: only text parts counted; 900,000 characters in a tag's data or an action's
    # payload reached the model and were replayed from history on every later turn.
    limit_settings(settings, MAX_MESSAGE_CHARS=1000, MAX_JSON_CHARS=100_000)
    thread, item = widget_thread
    body = _model_input_bodies(thread, item, 1001)[way]
    assert_refused_whole(api, body, "message_too_long", model)


def test_a_client_tool_result_counts_as_model_input(api, settings):
    limit_settings(settings, MAX_MESSAGE_CHARS=1000, MAX_JSON_CHARS=100_000)
    model = ScriptedModel()
    with override_agent(tools_agent(model)):
        model.enqueue([function_call("read_selection", {}, call_id="call_sel")])
        first = api.create_thread("What did I select?")
        before = snapshot()
        response = api.request(
            "threads.add_client_tool_output", thread_id=first.thread_id, result={"t": "x" * 1000}
        )
    assert_refused(response, 400, "message_too_long")
    assert snapshot() == before


def test_structured_input_answers_count_as_model_input(chatkit_client, settings):
    limit_settings(settings, MAX_MESSAGE_CHARS=1000)
    body = {
        "type": "threads.add_structured_input",
        "params": {
            "thread_id": "thr_missing",
            "item_id": "msg_missing",
            "input": {"answers": {"color": {"values": ["x" * 1001]}}},
        },
    }
    assert_refused(chatkit_client.post(json.dumps(body)), 400, "message_too_long")


def test_model_input_at_the_limit_reaches_the_model(api, thread_id, model, settings):
    limit_settings(settings, MAX_MESSAGE_CHARS=1000)
    model.enqueue([assistant_message("ok")])
    # 500 of text, 400 of quoted text, the tag as the model reads it: 1000 in all.
    empty = UserMessageTagContent(id="tag_1", text="t", data={"n": ""})
    assert tag_text(empty) == '@t (id tag_1): {"n": ""}'
    data = {"n": "z" * (1000 - 500 - 400 - len(tag_text(empty)))}
    result = api.stream(
        "threads.add_user_message",
        thread_id=thread_id,
        input=with_content(
            {"type": "input_text", "text": "a" * 500}, tag(data, text="t"), quoted_text="q" * 400
        ),
    )
    assert result.errors == [] and result.assistant_text == "ok"
    assert "z" * 50 in json.dumps(model.calls[-1].input)


# -- 10. the caller is known before the body is read ------------------------------------------


class CountingServer(DjangoChatKitServer):
    """The default server, counting the bodies it parses (a site may subclass it so too)."""

    parsed = 0

    def parse(self, body):
        type(self).parsed += 1
        return super().parse(body)


def _many_small_objects(size: int) -> bytes:
    body = {"type": "threads.list", "params": {}, "metadata": {"m": [{"a": 1}] * (size // 8)}}
    return json.dumps(body, separators=(",", ":")).encode()


@pytest.mark.parametrize("credentials", ["none", "bad token"])
def test_a_body_without_valid_credentials_is_never_parsed(live_asgi, settings, credentials):
    limit_settings(settings, SERVER_CLASS="tests.test_input_limits.CountingServer")
    CountingServer.parsed = 0
    headers = {"Content-Type": "application/json"}
    if credentials == "bad token":
        headers["Authorization"] = "Bearer not.a.token"
    response = live_asgi.http().post(API, content=_many_small_objects(200_000), headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] in ("not_authenticated", "authentication_failed")
    assert CountingServer.parsed == 0


def test_an_authenticated_body_is_parsed_once(api, settings):
    limit_settings(settings, SERVER_CLASS="tests.test_input_limits.CountingServer")
    CountingServer.parsed = 0
    assert api.list_threads().data == []
    assert CountingServer.parsed == 1


def test_the_longest_message_fits_in_the_default_body_limit(api, model):
    # The worst encoding of the longest message: astral characters, each sent as a \u
    # surrogate pair (12 bytes), as a client that escapes everything would.
    from chatkit_backend.conf import DEFAULTS

    text = "\U0001f600" * DEFAULTS["MAX_MESSAGE_CHARS"]
    body = json.dumps({"type": "threads.create", "params": {"input": message_input(text)}})
    assert len(body) <= DEFAULTS["MAX_REQUEST_BYTES"]
    model.enqueue([assistant_message("ok")])
    response = api.post(body)
    assert response.status == 200 and response.is_stream, response.content[:300]
    assert (
        models.ThreadItem.objects.filter(type="user_message").get().data["content"][0]["text"]
        == text
    )


def test_an_invalid_body_counts_against_the_request_rate(chatkit_client, settings):
    limit_settings(settings, THROTTLE_RATES={"requests": "2/min"})
    statuses = [chatkit_client.post(b"not json").status for _ in range(3)]
    assert statuses == [400, 400, 429]
