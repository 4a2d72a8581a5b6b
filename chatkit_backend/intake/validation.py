"""Strict reading of request bodies: chatkit's models ignore unknown fields; we refuse them.

A typo'd or invented field is a client bug (or a probe) that would otherwise be silently
dropped. ``ActionConfig`` fields that ChatKit.js sends with every widget action
(``handler``, ``loadingBehavior``, ``streaming``) are known; free-form values (``metadata``,
tag data, action payloads, client tool results) are never inspected.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from chatkit.actions import Action, ActionConfig
from pydantic import BaseModel

from .limits import MODELS, fields_of

EXTRA_KNOWN_FIELDS: dict[type, set[str]] = {Action: set(ActionConfig.model_fields)}


@cache
def _known_fields(model: type[BaseModel]) -> frozenset[str]:
    fields = model.model_fields
    known = set(fields) | {info.alias for info in fields.values() if info.alias}
    for base, extra in EXTRA_KNOWN_FIELDS.items():
        if issubclass(model, base):
            known |= extra
    return frozenset(known)


def unknown_fields(value: Any, raw: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of keys in ``raw`` (parsed JSON) that the validated ``value`` has no field for."""
    if isinstance(value, BaseModel) and isinstance(raw, dict):
        known = _known_fields(type(value))
        found = [(*path, key) for key in raw if key not in known]
        for name, key, kind in fields_of(type(value)):
            if kind is MODELS and key in raw:  # plain and free-form values have no fields
                found += unknown_fields(getattr(value, name), raw[key], (*path, key))
        return found
    if isinstance(value, list) and isinstance(raw, list):
        return [
            found
            for index, (item, raw_item) in enumerate(zip(value, raw, strict=False))
            if isinstance(item, BaseModel)  # a list of strings has no fields
            for found in unknown_fields(item, raw_item, (*path, index))
        ]
    if isinstance(value, dict) and isinstance(raw, dict):
        return [
            found
            for key, item in value.items()
            if isinstance(item, BaseModel)
            for found in unknown_fields(item, raw.get(key), (*path, key))
        ]
    return []


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_text(body: str | bytes | bytearray, raw: Any) -> tuple[Any, ...] | None:
    """Where ``raw`` (the parsed ``body``) holds text a database cannot store, or ``None``.

    PostgreSQL refuses NUL in text and JSON, and an unpaired surrogate is not UTF-8 at all;
    either would fail half-way through a turn, after the thread was written. JSON can only
    carry them as ``\\u`` escapes, so bodies without one are not walked.
    """
    if (b"\\u" if isinstance(body, bytes | bytearray) else "\\u") not in body:
        return None
    stack: list[tuple[tuple[Any, ...], Any]] = [((), raw)]
    while stack:  # a loop, not recursion: the nesting depth is the client's choice
        path, value = stack.pop()
        if isinstance(value, str):
            if not _storable(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if not _storable(key):
                    return path
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return None


def refuse_constant(name: str) -> Any:
    """``json.loads``' hook for ``NaN`` and ``Infinity``: not JSON, and PostgreSQL's ``jsonb``
    refuses them (the turn would fail after the thread was written)."""
    raise ValueError(f"{name} is not a JSON value")
