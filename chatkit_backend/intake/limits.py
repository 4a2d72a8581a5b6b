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
from typing import (
    Annotated,
    Any,
    ForwardRef,
    Literal,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

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

from ..conf import conf
from ..exceptions import RequestError
from ..reasoning.tags import tag_text  # a tag as the model reads it (HistoryConverter)

Path = tuple[Any, ...]


def _where(path: Path) -> str:
    return ".".join(str(part) for part in path) or "the body"


# -- the number of values --------------------------------------------------------------------


def containers_exceed(body: bytes | bytearray | str, limit: int) -> bool:
    """Whether the JSON text ``body`` holds more than ``limit`` objects and arrays, found
    without decoding it.

    Decoding is what makes them costly: each one is an object the garbage collector tracks,
    and a few hundred thousand of them set off full collections that hold the GIL for a
    quarter of a second. A count of brackets is an upper bound (strings may hold brackets);
    only a body past it is looked at closely, with string contents set aside (escapes first,
    so an escaped quote does not end a string).
    """
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    unescaped = bytes(body).replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    return outside_strings.count(b"[") + outside_strings.count(b"{") > limit


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


def _too_many_values(limit: int) -> RequestError:
    return RequestError(f"The request holds more than {limit} JSON values.", code="too_many_values")


def check_containers(body: bytes | bytearray | str) -> None:
    """Before decoding: refuse a body with more objects and arrays than ``MAX_JSON_VALUES``."""
    limit = conf.MAX_JSON_VALUES
    if containers_exceed(body, limit):
        raise _too_many_values(limit)


def check_value_count(raw: Any) -> None:
    """After decoding: refuse a body with more values of any kind than ``MAX_JSON_VALUES``."""
    limit = conf.MAX_JSON_VALUES
    if count_exceeds(raw, limit):
        raise _too_many_values(limit)


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


def _holds_models(annotation: Any) -> bool:
    """Whether a value typed ``annotation`` may contain pydantic models."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    if get_origin(annotation) is Literal:
        return False
    return any(_holds_models(arg) for arg in get_args(annotation))


FREE_FORM, MODELS = "free-form", "models"


def _kind(annotation: Any) -> str | None:
    if isinstance(annotation, TypeVar | ForwardRef):
        return FREE_FORM  # unresolved: assume the worst, and check it like free-form JSON
    if _is_free_form(annotation):
        return FREE_FORM
    return MODELS if _holds_models(annotation) else None


@cache
def fields_of(model: type[BaseModel]) -> tuple[tuple[str, str, str | None], ...]:
    """(attribute, JSON key, kind) for each field of ``model``: ``FREE_FORM`` for arbitrary
    JSON, ``MODELS`` for a field that may hold models, ``None`` for plain values."""
    try:
        # chatkit's modules postpone annotations: pydantic resolves them for validation but
        # leaves ForwardRefs in ``model_fields``.
        hints = get_type_hints(model, include_extras=True)
    except (NameError, TypeError):
        hints = {}
    fields = []
    for name, info in model.model_fields.items():
        annotation = hints.get(name, info.annotation)
        if isinstance(annotation, TypeVar):
            annotation = info.annotation  # a parametrised generic (``Action[str, Any]``)
        fields.append((name, info.alias or name, _kind(annotation)))
    return tuple(fields)


def free_form_values(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) of every free-form field in a validated request, wherever it sits."""
    if isinstance(value, BaseModel):
        for name, key, kind in fields_of(type(value)):
            if kind is FREE_FORM:
                yield (*path, key), getattr(value, name)
            elif kind is MODELS:
                yield from free_form_values(getattr(value, name), (*path, key))
        return
    if isinstance(value, dict | list | tuple):  # of models: content parts, structured answers
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in children:
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


# As the history converter writes tag data and hidden context for the model (``json.dumps``
# with these options); one encoder, since ``dumps`` with options builds one per call.
MODEL_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


def json_chars(value: Any) -> int:
    """Characters of ``value`` as JSON, as the model (and the stored item) will carry it."""
    return len(MODEL_JSON.encode(value))


def check_free_form(request: ChatKitReq) -> None:
    depth_limit, size_limit = conf.MAX_JSON_DEPTH, conf.MAX_JSON_CHARS
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
            return len(str(action.type)) + json_chars(action.payload)
        case ThreadsAddClientToolOutputReq():
            return json_chars(request.params.result)
        case ThreadsAddStructuredInputReq():
            return sum(
                len(key) + sum(len(text) for text in answer.values)
                for key, answer in request.params.input.answers.items()
            )
    return 0


def check_model_input(request: ChatKitReq) -> None:
    limit = conf.MAX_MESSAGE_CHARS
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
