"""A widget's text, for reading it in the admin as a card (never rendered as a widget)."""

from __future__ import annotations

from typing import Any

# Widget component props that carry text a user reads.
TEXT_PROPS = ("title", "label", "value", "text", "content", "placeholder", "alt", "name")
MAX_LINES = 60
MAX_DEPTH = 20


def widget_text(widget: dict[str, Any]) -> list[str]:
    """The readable text of a widget tree, in document order (component type as a prefix
    for headings and buttons), at most ``MAX_LINES`` lines."""
    lines: list[str] = []

    def walk(node: Any, depth: int) -> None:
        if len(lines) >= MAX_LINES or depth > MAX_DEPTH:
            return
        if isinstance(node, list):
            for child in node:
                walk(child, depth + 1)
            return
        if not isinstance(node, dict):
            return
        kind = str(node.get("type") or "")
        for prop in TEXT_PROPS:
            value = node.get(prop)
            if isinstance(value, str | int | float) and str(value).strip():
                prefix = f"[{kind}] " if kind in ("Button", "Badge", "Image") else ""
                lines.append(f"{prefix}{value}")
        for key in ("children", "items", "options", "header", "footer", "body"):
            if key in node:
                walk(node[key], depth + 1)

    walk(widget, 0)
    return lines[:MAX_LINES]
