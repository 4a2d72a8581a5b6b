"""Entity tags: the search endpoint behind ``entities.onTagSearch`` (scoped to the caller),
the preview endpoint behind ``entities.onRequestPreview``, and @-tags as the model reads them."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from agents.testing import assistant_message
from chatkit.types import AssistantMessageContent, AssistantMessageItem
from django.test import Client

from chatkit_backend import models
from chatkit_backend.entities import Entity
from tests.support.db import make_thread, user_message

pytestmark = pytest.mark.django_db(transaction=True)

SEARCH = "/chatkit/entities"
PREVIEW = "/chatkit/entities/preview"
BUILT_IN = {
    "ENTITY_SEARCH": "chatkit_backend.entities.search_threads",
    "ENTITY_PREVIEW": "chatkit_backend.entities.preview_thread",
}


@pytest.fixture
def threads_source(settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, **BUILT_IN}


def titled(user, title: str, *items) -> str:
    thread_id = make_thread(user, *items)
    models.Thread.objects.filter(id=thread_id).update(title=title)
    return thread_id


def search(client, query: str, **params):
    return client.get(SEARCH, {"q": query, **params})


def test_search_finds_only_the_callers_threads(
    chatkit_client, chatkit_user, other_user, threads_source
):
    mine = {titled(chatkit_user, "Trip to Rome"), titled(chatkit_user, "Rome on a budget")}
    titled(chatkit_user, "Paris")
    theirs = titled(other_user, "Rome, secretly")
    answer = search(chatkit_client.transport, "rome")
    assert answer.status_code == 200
    entities = answer.json()["entities"]
    assert {entity["id"] for entity in entities} == mine and theirs not in str(entities)
    assert entities[0] == {
        "id": entities[0]["id"],
        "title": entities[0]["title"],
        "group": "Threads",
        "icon": "notebook",
        "interactive": True,
        "data": {"kind": "thread"},
    }


def test_search_needs_credentials_and_a_source(client, chatkit_client, settings):
    assert search(Client(), "x").status_code == 401
    answer = search(chatkit_client.transport, "x")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "not_configured"


def test_search_bounds_the_query_and_the_results(chatkit_client, chatkit_user, threads_source):
    for number in range(5):
        titled(chatkit_user, f"Note {number}")
    assert len(search(chatkit_client.transport, "note", limit=2).json()["entities"]) == 2
    too_long = search(chatkit_client.transport, "n" * 201)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "query_too_long"


SEEN: list[tuple[str, object]] = []


async def people(query: str, context) -> list[dict]:
    """A site's own async source: it gets the query and who is asking."""
    SEEN.append((query, context.user.username))
    return [{"id": "usr_1", "title": "Ada Lovelace", "group": "People", "data": {"role": "ops"}}]


def broken(query: str, context) -> list[dict]:
    return [{"title": "no id"}]


def test_a_sites_own_source_is_called_with_the_context(chatkit_client, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ENTITY_SEARCH": people}
    SEEN.clear()
    answer = search(chatkit_client.transport, "ada")
    assert answer.json() == {
        "entities": [
            {"id": "usr_1", "title": "Ada Lovelace", "group": "People", "data": {"role": "ops"}}
        ]
    }
    assert SEEN == [("ada", "chatkit-user")]


def test_a_source_that_returns_garbage_is_a_clear_500(chatkit_client, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ENTITY_SEARCH": broken}
    answer = search(chatkit_client.transport, "x")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "entity_source_failed"


def preview(client, entity: dict, **extra):
    return client.post(PREVIEW, json.dumps(entity), content_type="application/json", **extra)


def test_preview_shows_the_callers_thread_and_nobody_elses(
    chatkit_client, chatkit_user, other_user, threads_source
):
    answer = AssistantMessageItem(
        id="msg_a",
        thread_id="pending",
        created_at=datetime.now(),
        content=[AssistantMessageContent(text="Rome in three days: start at the Forum.")],
    )
    mine = titled(chatkit_user, "Trip to Rome", user_message("Plan Rome"), answer)
    theirs = titled(other_user, "Their trip")
    shown = preview(chatkit_client.transport, {"id": mine, "title": "Trip to Rome"})
    assert shown.status_code == 200
    widget = shown.json()["preview"]
    assert widget["type"] == "Basic"
    texts = [child["value"] for child in widget["children"]]
    assert texts[0] == "Trip to Rome" and texts[-1] == "Rome in three days: start at the Forum."
    hidden = preview(chatkit_client.transport, {"id": theirs, "title": "Their trip"})
    assert hidden.status_code == 200 and hidden.json() == {"preview": None}


def test_preview_refuses_bad_bodies_and_checks_csrf(chatkit_client, chatkit_user, threads_source):
    bad = preview(chatkit_client.transport, {"title": "no id"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_entity"
    nested = chatkit_client.transport.post(
        PREVIEW, "[" * 5000 + "]" * 5000, content_type="application/json"
    )
    assert nested.status_code == 400
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(chatkit_user)
    assert preview(strict, {"id": "thr_x", "title": "x"}).status_code == 403


def test_tags_reach_the_model_as_text_it_can_use(chatkit_client, model):
    model.enqueue([assistant_message("Ada is in ops.")])
    tag = Entity(id="usr_1", title="Ada Lovelace", group="People", data={"role": "ops"})
    message = {
        "content": [
            {"type": "input_text", "text": "What does "},
            {
                "type": "input_tag",
                "id": tag.id,
                "text": tag.title,
                "group": tag.group,
                "data": tag.data,
                "interactive": True,
            },
            {"type": "input_text", "text": " do?"},
        ],
        "attachments": [],
        "inference_options": {},
    }
    assert chatkit_client.stream("threads.create", input=message).errors == []
    sent = json.dumps(model.calls[0].input, ensure_ascii=False)
    assert "What does @Ada Lovelace do?" in sent
    assert '@Ada Lovelace (People, id usr_1): {\\"role\\": \\"ops\\"}' in sent
