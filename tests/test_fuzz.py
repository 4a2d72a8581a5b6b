"""Property-based fuzzing of the protocol endpoint with bodies built from chatkit's schema.

Whatever arrives, the answer is never a 5xx or a traceback page; a refused request changes
nothing in the database.
"""

import json
import os
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit_backend.intake.limits import containers_exceed
from chatkit_backend.intake.parse import REQUEST_ADAPTER
from chatkit_backend.testing import parse_sse
from tests.support.db import snapshot
from tests.support.schema_strategies import ANY_JSON, from_schema

pytestmark = pytest.mark.django_db(transaction=True)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pydantic cannot render the generic Action's type default
    SCHEMA = REQUEST_ADAPTER.json_schema()
REQUESTS = from_schema(SCHEMA, SCHEMA.get("$defs", {}))


def _set_path(value, path, new):
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict) and head in value:
        return {**value, head: _set_path(value[head], rest, new)}
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        return [*value[:head], _set_path(value[head], rest, new), *value[head + 1 :]]
    return value


# Where chatkit's request types take arbitrary JSON.
FREE_FORM_KEYS = {"metadata", "data", "payload", "result"}


def _get_path(value, path):
    for head in path:
        value = value[head]
    return value


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def bodies(draw):
    """A request from the schema, then maybe broken in one of several ways."""
    request = draw(REQUESTS)
    how = draw(
        st.sampled_from(
            ["as is", "mistype", "drop", "extra", "truncate", "oversize", "bytes", "deepen"]
        )
    )
    if how == "mistype":
        path = draw(st.sampled_from(list(_paths(request))))
        request = _set_path(request, list(path), draw(ANY_JSON))
    elif how == "deepen":
        # Nest one value (a free-form one when there is one) to around what pydantic can
        # serialise (about 255 levels) or well within it.
        paths = list(_paths(request))
        free_form = [path for path in paths if path and path[-1] in FREE_FORM_KEYS]
        path = draw(st.sampled_from(free_form or paths))
        depth = draw(st.one_of(st.integers(1, 40), st.integers(240, 320)))
        as_object = draw(st.booleans())
        leaf = _get_path(request, list(path))
        for _ in range(depth):
            leaf = {"a": leaf} if as_object else [leaf]
        request = _set_path(request, list(path), leaf)
    elif how == "drop" and isinstance(request, dict) and request:
        request = dict(request)
        request.pop(draw(st.sampled_from(sorted(request))))
    elif how == "extra":
        request = {**request, draw(st.text(min_size=1, max_size=8)): draw(ANY_JSON)}
    body = json.dumps(request).encode()
    if how == "truncate":
        body = body[: draw(st.integers(min_value=0, max_value=max(0, len(body) - 1)))]
    elif how == "oversize":
        body = json.dumps({**request, "metadata": {"pad": "x" * 1_100_000}}).encode()
    elif how == "bytes":
        body = draw(st.binary(max_size=200))
    return body


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    derandomize=True,
)
@given(body=bodies())
def test_no_body_makes_a_5xx_or_changes_data_when_refused(chatkit_client, settings, body):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "THROTTLE_RATES": {}}
    before = snapshot()
    response = chatkit_client.post(body)
    assert response.status < 500, (body[:300], response.content[:300])
    if response.status != 200:
        assert response.headers["content-type"] == "application/json"
        assert json.loads(response.content)["error"]["message"]
        assert snapshot() == before
    elif response.is_stream:
        assert response.content.startswith(b"data: ")
    # Whatever was accepted, every thread it wrote still loads (a stored item pydantic
    # cannot serialise made threads.get_by_id answer 400 for good).
    known = {row["id"] for row in before[0]}
    for thread_id in {row["id"] for row in snapshot()[0]} - known:
        reread = chatkit_client.request("threads.get_by_id", thread_id=thread_id)
        assert reread.status == 200, (body[:300], reread.content[:300])


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")) // 10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(
    depth=st.one_of(st.integers(0, 40), st.integers(240, 320)),
    as_object=st.booleans(),
    where=st.sampled_from(["tag data", "metadata"]),
)
def test_valid_messages_with_nested_json_are_stored_readable_or_refused_whole(
    chatkit_client, settings, depth, as_object, where
):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "THROTTLE_RATES": {}}
    value = "leaf"
    for _ in range(depth):
        value = {"a": value} if as_object else [value]
    content = [{"type": "input_text", "text": "look"}]
    if where == "tag data":
        content.append({"type": "input_tag", "id": "t", "text": "tag", "data": {"v": value}})
    body = {
        "type": "threads.create",
        "params": {"input": {"content": content, "attachments": [], "inference_options": {}}},
    }
    if where == "metadata":
        body["metadata"] = {"v": value}
    before = snapshot()
    response = chatkit_client.post(json.dumps(body))
    if response.status != 200:
        assert response.status == 400, response.content[:300]
        assert snapshot() == before
        return
    events = parse_sse(response.content)
    assert not [event for event in events if event.type == "error"], response.content[-300:]
    thread_id = next(event.thread.id for event in events if event.type == "thread.created")
    reread = chatkit_client.request("threads.get_by_id", thread_id=thread_id)
    assert reread.status == 200, reread.content[:300]


# Strings full of what looks like structure.
TRICKY_TEXT = st.text(st.sampled_from(list('[]{}"\\:, aé\U0001f600')), max_size=8)
TRICKY_JSON = st.recursive(
    st.one_of(TRICKY_TEXT, st.integers(), st.none(), st.booleans()),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(TRICKY_TEXT, children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    value=TRICKY_JSON,
    limit=st.integers(min_value=0, max_value=6),
    ascii_only=st.booleans(),
)
def test_objects_and_arrays_are_counted_without_decoding(value, limit, ascii_only):
    # Brackets, quotes and backslashes inside strings are not structure.
    def containers(item):
        if isinstance(item, dict):
            return 1 + sum(containers(child) for child in item.values())
        if isinstance(item, list):
            return 1 + sum(containers(child) for child in item)
        return 0

    text = json.dumps(value, ensure_ascii=ascii_only)
    expected = containers(value) > limit
    assert containers_exceed(text.encode(), limit) == expected
    assert containers_exceed(text, limit) == expected
