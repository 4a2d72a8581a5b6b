"""Strict reading of request bodies: chatkit's models ignore unknown fields; we refuse them.

A typo'd or invented field is a client bug (or a probe) that would otherwise be silently
dropped. ``ActionConfig`` fields that ChatKit.js sends with every widget action
(``handler``, ``loadingBehavior``, ``streaming``) are known; ``metadata`` and free-form values
(action payloads, client tool results) are never inspected.
"""

from __future__ import annotations

from typing import Any

from chatkit.actions import Action, ActionConfig
from pydantic import BaseModel

EXTRA_KNOWN_FIELDS: dict[type, set[str]] = {Action: set(ActionConfig.model_fields)}


def _known_fields(model: BaseModel) -> set[str]:
    fields = type(model).model_fields
    known = set(fields) | {info.alias for info in fields.values() if info.alias}
    for base, extra in EXTRA_KNOWN_FIELDS.items():
        if isinstance(model, base):
            known |= extra
    return known


def unknown_fields(value: Any, raw: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of keys in ``raw`` (parsed JSON) that the validated ``value`` has no field for."""
    if isinstance(value, BaseModel) and isinstance(raw, dict):
        found = [(*path, key) for key in raw if key not in _known_fields(value)]
        for name, info in type(value).model_fields.items():
            key = info.alias or name
            if key in raw and key != "metadata":
                found += unknown_fields(getattr(value, name), raw[key], (*path, key))
        return found
    if isinstance(value, list) and isinstance(raw, list):
        return [
            found
            for index, (item, raw_item) in enumerate(zip(value, raw, strict=False))
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
