"""How an @-tag (an entity the user mentioned) reads to the model."""

from __future__ import annotations

import json

from chatkit.types import UserMessageTagContent

# ``json.dumps`` with these options builds an encoder per call; one is enough.
TAG_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


def tag_text(tag: UserMessageTagContent) -> str:
    """``@Ada Lovelace (People, id usr_42): {"email": "ada@example.com"}``.

    The model gets what it needs to use the entity: the name the user saw, its group, the id
    a tool can look it up by, and the entity's ``data``. The request's size limit counts
    exactly this text (``MAX_MESSAGE_CHARS``).
    """
    about = ", ".join(part for part in (tag.group, f"id {tag.id}") if part)
    data = f": {TAG_JSON.encode(tag.data)}" if tag.data else ""
    return f"@{tag.text} ({about}){data}"
