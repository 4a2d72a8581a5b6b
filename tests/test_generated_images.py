"""Images the agent generates: stored through Django storage, served by signed URLs to their
owner only, never base64 in the database, and turned back into model input on later turns.

The model is a ``ScriptedModel`` streaming the Responses events of an image generation call
(a partial image, then the final one), as OpenAI's image generation tool sends them.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import pytest
from agents import Agent
from agents.testing import ModelStep, ScriptedModel, assistant_message
from chatkit.types import GeneratedImageItem, GeneratedImageUpdated, ThreadItemUpdatedEvent
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseImageGenCallPartialImageEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
)
from openai.types.responses.response_output_item import ImageGenerationCall

from chatkit_backend import models
from chatkit_backend.providers import events
from chatkit_backend.testing import override_agent, response_body
from tests.support.files import PNG, stored_files

pytestmark = pytest.mark.django_db(transaction=True)

FINAL_B64 = base64.b64encode(PNG).decode()


def image_step(partial: bytes = PNG, final: bytes = PNG) -> ModelStep:
    """One model response: an image generation call (a partial image, then the final), then
    a message."""
    call = ImageGenerationCall(id="ig_1", type="image_generation_call", status="generating")
    done = call.model_copy(
        update={"status": "completed", "result": base64.b64encode(final).decode()}
    )
    message = events.message("Here is your cat.")
    seq = iter(range(100))
    final_response = events.response([done, message], model="scripted", tokens=events.usage(5, 5))
    pending = final_response.model_copy(update={"output": [], "status": "in_progress"})
    stream = [
        ResponseCreatedEvent(type="response.created", response=pending, sequence_number=next(seq)),
        ResponseOutputItemAddedEvent(
            type="response.output_item.added", item=call, output_index=0, sequence_number=next(seq)
        ),
        ResponseImageGenCallPartialImageEvent(
            type="response.image_generation_call.partial_image",
            item_id="ig_1",
            output_index=0,
            partial_image_b64=base64.b64encode(partial).decode(),
            partial_image_index=0,
            sequence_number=next(seq),
        ),
        ResponseOutputItemDoneEvent(
            type="response.output_item.done", item=done, output_index=0, sequence_number=next(seq)
        ),
        ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            item=message,
            output_index=1,
            sequence_number=next(seq),
        ),
        ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            item=message,
            output_index=1,
            sequence_number=next(seq),
        ),
        ResponseCompletedEvent(
            type="response.completed", response=final_response, sequence_number=next(seq)
        ),
    ]
    return ModelStep.stream(stream, output=[done, message])


@pytest.fixture
def painter():
    model = ScriptedModel()
    with override_agent(Agent(name="Painter", instructions="Draw.", model=model)):
        yield model


def everything_stored() -> str:
    """Every JSON value the database holds for threads, items and attachments."""
    rows = [
        *models.Thread.objects.values_list("metadata", flat=True),
        *models.ThreadItem.objects.values_list("data", flat=True),
        *models.Attachment.objects.values_list("data", flat=True),
    ]
    return json.dumps(rows)


def test_a_generated_image_is_stored_and_served_to_its_owner_only(
    chatkit_client, other_client, client_factory, painter, media
):
    nobody = client_factory()
    painter.enqueue(image_step())
    result = chatkit_client.create_thread("Draw a cat")
    assert result.errors == [] and result.assistant_text == "Here is your cat."

    [item] = [
        i for i in chatkit_client.list_items(result.thread_id).data if i.type == "generated_image"
    ]
    assert isinstance(item, GeneratedImageItem) and item.image is not None
    # No base64 anywhere in the database: the item holds a URL of ours.
    stored = everything_stored()
    assert FINAL_B64[:40] not in stored and "data:image" not in stored
    [row] = models.Attachment.objects.all()
    assert (row.thread_id, row.mime_type, row.size) == (result.thread_id, "image/png", len(PNG))
    assert stored_files(media) == [row.file_name.rsplit("/", 1)[-1]]

    url = urlsplit(item.image.url)
    signed = f"{url.path}?{url.query}"
    fetched = nobody.get(signed)  # the signed URL works on its own, without credentials
    assert fetched.status_code == 200 and response_body(fetched) == PNG
    owner = chatkit_client.transport.get(url.path)  # the owner, without a token
    assert owner.status_code == 200
    assert other_client.transport.get(url.path).status_code == 404  # anyone else
    assert nobody.get(url.path).status_code == 401  # nobody, without the token


def test_partial_images_stream_as_urls_and_leave_one_file(chatkit_client, painter, media):
    painter.enqueue(image_step(partial=PNG + b"partial", final=PNG))
    result = chatkit_client.create_thread("Draw a cat")
    updates = [
        e.update
        for e in result.events
        if isinstance(e, ThreadItemUpdatedEvent) and isinstance(e.update, GeneratedImageUpdated)
    ]
    assert len(updates) == 1 and updates[0].image.url.startswith("http://testserver/chatkit/")
    wire = result.response.content.decode()
    assert "data:image" not in wire and FINAL_B64[:40] not in wire  # not even on the wire
    assert len(stored_files(media)) == 1  # the final image replaced the partial one
    assert models.Attachment.objects.get().size == len(PNG)


def test_history_turns_the_image_into_model_input(chatkit_client, painter):
    painter.enqueue(image_step())
    thread_id = chatkit_client.create_thread("Draw a cat").thread_id
    painter.enqueue([assistant_message("It is orange.")])
    assert chatkit_client.send(thread_id, "What colour is it?").assistant_text == "It is orange."
    sent = json.dumps(painter.calls[-1].input)
    assert f"data:image/png;base64,{FINAL_B64}" in sent
    assert "The following image was generated by the agent." in sent


def test_deleting_the_thread_deletes_the_image(chatkit_client, painter, media):
    painter.enqueue(image_step())
    thread_id = chatkit_client.create_thread("Draw a cat").thread_id
    chatkit_client.delete_thread(thread_id)
    assert not models.Attachment.objects.exists() and stored_files(media) == []
