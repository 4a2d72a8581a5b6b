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

from chatkit_backend import models
from chatkit_backend.server import REQUEST_ADAPTER

from .schema_strategies import ANY_JSON, from_schema

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
        st.sampled_from(["as is", "mistype", "drop", "extra", "truncate", "oversize", "bytes"])
    )
    if how == "mistype":
        path = draw(st.sampled_from(list(_paths(request))))
        request = _set_path(request, list(path), draw(ANY_JSON))
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


def snapshot():
    return (
        list(models.Thread.objects.order_by("id").values_list("id", "title", "updated_at")),
        list(models.ThreadItem.objects.order_by("seq").values_list("seq", "data")),
        list(models.Attachment.objects.order_by("id").values_list("id", "data")),
    )


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
