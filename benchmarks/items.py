"""Thread items for prefilled threads, built with chatkit's own pydantic types.

Both our site (rows in ``chatkit_backend.models.ThreadItem``) and the peer app (its in-memory
store) are prefilled with the same items: alternating user and assistant messages, the JSON
exactly as chatkit serializes it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    UserMessageItem,
    UserMessageTextContent,
)

USER_TEXT = "Tell me something about this benchmark thread, please."
ASSISTANT_TEXT = (
    "Here is an earlier answer of the benchmark assistant, long enough to look like a real "
    "reply of a few sentences. It carries no annotations and no widgets."
)


def item_id(index: int) -> str:
    # 64 random bits like the project's ids; the index keeps them unique within a thread.
    return f"msg_{secrets.token_hex(8)}{index:07d}"


def start_time(count: int) -> datetime:
    """Prefilled items are older than anything a turn adds during the benchmark."""
    return datetime.now() - timedelta(days=1, milliseconds=count)


def prefill_items(thread_id: str, count: int) -> Iterator[tuple[str, str, datetime, Any]]:
    """``(item_id, type, created_at, pydantic item)`` for ``count`` items, oldest first."""
    base = start_time(count)
    for index in range(count):
        created_at = base + timedelta(milliseconds=index)
        if index % 2 == 0:
            item: Any = UserMessageItem(
                id=item_id(index),
                thread_id=thread_id,
                created_at=created_at,
                content=[UserMessageTextContent(text=f"{USER_TEXT} ({index})")],
                attachments=[],
                inference_options=InferenceOptions(),
            )
        else:
            item = AssistantMessageItem(
                id=item_id(index),
                thread_id=thread_id,
                created_at=created_at,
                content=[AssistantMessageContent(text=f"{ASSISTANT_TEXT} ({index})")],
            )
        yield item.id, item.type, created_at, item


def prefill_json(thread_id: str, count: int) -> Iterator[tuple[str, str, datetime, dict]]:
    """The same items as JSON dicts (``model_dump(mode="json")``), built fast for big threads.

    Pydantic builds one template of each kind; every row is a copy with its own id, time and
    text, which serializes to exactly what ``model_dump(mode="json")`` of the item gives.
    """
    templates: dict[str, dict] = {}
    for index, (_, _, _, item) in enumerate(prefill_items(thread_id, 2)):
        templates["user" if index == 0 else "assistant"] = item.model_dump(mode="json")
    base = start_time(count)
    for index in range(count):
        created_at = base + timedelta(milliseconds=index)
        kind = "user" if index % 2 == 0 else "assistant"
        data = dict(templates[kind])
        text = f"{USER_TEXT if kind == 'user' else ASSISTANT_TEXT} ({index})"
        part = dict(data["content"][0], text=text)
        data.update(id=item_id(index), created_at=created_at.isoformat(), content=[part])
        yield data["id"], data["type"], created_at, data
