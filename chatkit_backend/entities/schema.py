"""The entities the endpoints hand to the page, in @openai/chatkit's ``Entity`` shape."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Entity(BaseModel):
    """An entity the user can tag: @openai/chatkit's ``Entity``.

    ``title`` is what the tag shows, ``id`` what a tool looks it up by; ``data`` (strings
    only) travels with the tag to the server and reaches the model.
    """

    model_config = ConfigDict(extra="ignore")  # fields a newer ChatKit.js may send

    title: str = Field(min_length=1, max_length=500)
    id: str = Field(min_length=1, max_length=500)
    icon: str | None = None
    interactive: bool | None = None
    group: str | None = None
    data: dict[str, str] | None = None

    def as_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)


ENTITIES = TypeAdapter(list[Entity])
