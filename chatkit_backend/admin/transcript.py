"""Readable lines for a stored thread item, for the admin's transcript of a thread."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TranscriptLine:
    speaker: str
    kind: str
    text: str
    created_at: datetime
    feedback: str | None
    hidden: bool = False


def _join(parts: list[dict[str, Any]]) -> str:
    return "".join(
        part.get("text", "") if part.get("type") != "input_tag" else f"@{part.get('text', '')}"
        for part in parts
    )


def describe(data: dict[str, Any]) -> tuple[str, str, bool]:
    """(speaker, text, hidden) for an item's stored JSON; unknown types fall back to JSON."""
    kind = data.get("type", "")
    if kind == "user_message":
        names = [a.get("name", "?") for a in data.get("attachments", [])]
        suffix = f"  [attachments: {', '.join(names)}]" if names else ""
        return "User", _join(data.get("content", [])) + suffix, False
    if kind == "assistant_message":
        person = data.get("chatkit_backend_operator")  # admin/operator.py: a person wrote it
        speaker = (
            f"Operator ({person.get('name', '?')})" if isinstance(person, dict) else "Assistant"
        )
        return speaker, _join(data.get("content", [])), False
    if kind == "client_tool_call":
        output = json.dumps(data.get("output"), default=str)
        return (
            "Client tool",
            f"{data.get('name')}({json.dumps(data.get('arguments'), default=str)})"
            f" [{data.get('status')}] -> {output}",
            False,
        )
    if kind in ("hidden_context_item", "sdk_hidden_context"):
        content = data.get("content")
        return "Hidden", content if isinstance(content, str) else json.dumps(content), True
    if kind == "workflow":
        tasks = data.get("workflow", {}).get("tasks", [])
        text = "; ".join(t.get("title") or t.get("content") or t.get("type", "") for t in tasks)
        return "Workflow", text, False
    if kind == "widget":
        return "Widget", data.get("copy_text") or json.dumps(data.get("widget"))[:500], False
    if kind == "end_of_turn":
        return "—", "end of turn", False
    return kind or "item", json.dumps(data, default=str)[:500], False
