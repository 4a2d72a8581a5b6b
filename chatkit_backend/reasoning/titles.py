"""A new thread's title, from its first message."""

from __future__ import annotations

from chatkit.types import UserMessageItem, UserMessageTagContent


def make_title(message: UserMessageItem, max_length: int) -> str | None:
    """The first words of a message, cut at a word boundary."""
    text = " ".join(
        (part.text if not isinstance(part, UserMessageTagContent) else f"@{part.text}")
        for part in message.content
    )
    text = " ".join(text.split())
    if not text:
        return None
    if len(text) <= max_length:
        return text
    cut = text[: max_length - 1].rsplit(" ", 1)[0] or text[: max_length - 1]
    return cut.rstrip(",.;:") + "…"
