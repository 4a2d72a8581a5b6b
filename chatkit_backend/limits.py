"""How much one request may carry: JSON values, free-form JSON, and what it adds to model input.

Checked when the body is parsed, before anything is looked up or written:

- ``MAX_JSON_VALUES``: JSON values in the whole body, counted before chatkit's models validate
  it (validation costs per value, and holds the GIL while it runs);
- ``MAX_JSON_DEPTH`` and ``MAX_JSON_CHARS``: nesting and size of every *free-form* value, the
  fields chatkit types as ``Any`` or ``dict[str, Any]`` (request ``metadata``, a tag's ``data``,
  a widget action's ``payload``, a client tool's ``result``). Stored thread items carry them;
  past about 250 levels pydantic can no longer serialise the item, and the thread would stop
  loading;
- ``MAX_MESSAGE_CHARS``: every character a request adds to model input, counted as the model
  will see it, whichever field carries it.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from chatkit.types import (
    ChatKitReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsSyncCustomActionReq,
    UserMessageInput,
    UserMessageTagContent,
)
from pydantic import BaseModel

from .conf import conf
from .exceptions import RequestError

Path = tuple[Any, ...]


def _where(path: Path) -> str:
    return ".".join(str(part) for part in path) or "the body"


# -- the number of values --------------------------------------------------------------------


def count_exceeds(raw: Any, limit: int) -> bool:
    """Whether parsed JSON holds more than ``limit`` values (stops counting once it does)."""
    count = 0
    stack = [raw]
    while stack:  # a loop, not recursion: the nesting depth is the client's choice
        value = stack.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def check_value_count(raw: Any) -> None:
    limit = int(conf.MAX_JSON_VALUES)
    if count_exceeds(raw, limit):
        raise RequestError(
            f"The request holds more than {limit} JSON values.", code="too_many_values"
        )


# -- free-form values ------------------------------------------------------------------------


def _is_free_form(annotation: Any) -> bool:
    """Whether a field typed ``annotation`` takes arbitrary JSON (``Any``, ``dict[str, Any]``)."""
    if annotation is Any:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_free_form(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_is_free_form(arg) for arg in get_args(annotation))
    if origin in (dict, list):
        return Any in get_args(annotation)
    return False


@cache
def fields_of(model: type[BaseModel]) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, JSON key, free-form?) for each field of ``model``."""
    return tuple(
        (name, info.alias or name, _is_free_form(info.annotation))
        for name, info in model.model_fields.items()
    )


def free_form_values(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) of every free-form field in a validated request, wherever it sits."""
    if isinstance(value, BaseModel):
        for name, key, free_form in fields_of(type(value)):
            item = getattr(value, name)
            if free_form:
                yield (*path, key), item
            else:
                yield from free_form_values(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if isinstance(item, BaseModel):
                yield from free_form_values(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, BaseModel):
                yield from free_form_values(item, (*path, key))


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and arrays more than ``limit`` levels deep."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return False


def json_chars(value: Any) -> int:
    """Characters of ``value`` as JSON, as the model (and the stored item) will carry it."""
    return len(json.dumps(value, ensure_ascii=False, default=str))


def check_free_form(request: ChatKitReq) -> None:
    depth_limit, size_limit = int(conf.MAX_JSON_DEPTH), int(conf.MAX_JSON_CHARS)
    for path, value in free_form_values(request):
        if depth_exceeds(value, depth_limit):
            raise RequestError(
                f"The JSON at {_where(path)} nests more than {depth_limit} levels deep.",
                code="json_too_deep",
            )
        size = json_chars(value)
        if size > size_limit:
            raise RequestError(
                f"The JSON at {_where(path)} is too large ({size} characters; the limit is "
                f"{size_limit}).",
                code="json_too_large",
            )


# -- model input -----------------------------------------------------------------------------


def tag_text(tag: UserMessageTagContent) -> str:
    """A tag as the model reads it (``HistoryConverter`` sends exactly this)."""
    return f"@{tag.text}: {json.dumps(tag.data, ensure_ascii=False, default=str)}"


def message_chars(input: UserMessageInput) -> int:
    text = sum(
        len(tag_text(part)) if isinstance(part, UserMessageTagContent) else len(part.text)
        for part in input.content
    )
    return text + len(input.quoted_text or "")


def model_input_chars(request: ChatKitReq) -> int:
    """Characters ``request`` adds to model input (0 for ops that add none).

    Attachments are bounded separately (``ATTACHMENT_MODEL_TEXT_CHARS``,
    ``ATTACHMENT_MODEL_MAX_BYTES``); a retry adds nothing new.
    """
    match request:
        case ThreadsCreateReq() | ThreadsAddUserMessageReq():
            return message_chars(request.params.input)
        case ThreadsCustomActionReq() | ThreadsSyncCustomActionReq():
            action = request.params.action
            return len(action.type) + json_chars(action.payload)
        case ThreadsAddClientToolOutputReq():
            return json_chars(request.params.result)
        case ThreadsAddStructuredInputReq():
            return sum(
                len(key) + sum(len(text) for text in answer.values)
                for key, answer in request.params.input.answers.items()
            )
    return 0


def check_model_input(request: ChatKitReq) -> None:
    limit = int(conf.MAX_MESSAGE_CHARS)
    length = model_input_chars(request)
    if length > limit:
        what = (
            "The message is"
            if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq)
            else "The input for the model is"
        )
        raise RequestError(
            f"{what} too long ({length} characters; the limit is {limit}).",
            code="message_too_long",
        )


def check_request(request: ChatKitReq) -> None:
    """Raise ``RequestError`` (400) if a validated request carries more than the limits allow."""
    check_free_form(request)
    check_model_input(request)
