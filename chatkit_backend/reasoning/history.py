"""Turning stored thread items into model input that every model class accepts."""

from __future__ import annotations

import json
from typing import Any

from agents import TResponseInputItem
from asgiref.sync import sync_to_async
from chatkit.agents import ThreadItemConverter
from chatkit.types import (
    AssistantMessageItem,
    Attachment,
    ClientToolCallItem,
    HiddenContextItem,
    UserMessageTagContent,
)
from openai.types.responses import EasyInputMessageParam, ResponseInputTextParam

from ..attachments import model_content

# Gemini 3 refuses a function call of the current turn that comes back without the
# ``thought_signature`` it made, and a stored ``ClientToolCallItem`` has no room for it. Google
# documents this value for calls whose signature is not available; the Agents SDK sends it to
# Gemini models only (``provider_data``), and strips it for the Responses API.
GEMINI_PLACEHOLDER_SIGNATURE = "skip_thought_signature_validator"


class HistoryConverter(ThreadItemConverter):
    """chatkit's converter, adjusted so history works with every provider.

    Subclass it and point ``CHATKIT_BACKEND["HISTORY_CONVERTER"]`` at the subclass to change
    how attachments, tags or hidden context reach the model.
    """

    async def assistant_message_to_input(
        self, item: AssistantMessageItem
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        # chatkit replays past answers as ``output_text`` parts, which the Agents SDK's Chat
        # Completions converter rejects ("Unknown content"): Gemini and every
        # OpenAI-compatible server would fail on every second turn. A plain-string assistant
        # message is accepted by both the Responses and the Chat Completions model classes.
        text = "".join(part.text for part in item.content)
        return EasyInputMessageParam(type="message", role="assistant", content=text)

    async def client_tool_call_to_input(
        self, item: ClientToolCallItem
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        converted = await super().client_tool_call_to_input(item)
        for entry in converted if isinstance(converted, list) else [converted]:
            if isinstance(entry, dict) and entry.get("type") == "function_call":
                entry["provider_data"] = {"thought_signature": GEMINI_PLACEHOLDER_SIGNATURE}  # type: ignore[typeddict-unknown-key]
        return converted

    async def attachment_to_message_content(self, attachment: Attachment) -> Any:
        # Ownership was checked when the message was sent; here we only read the bytes.
        return await sync_to_async(model_content)(attachment)

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputTextParam:
        return ResponseInputTextParam(
            type="input_text",
            text=f"@{tag.text}: {json.dumps(tag.data, ensure_ascii=False, default=str)}",
        )

    async def hidden_context_to_input(
        self, item: HiddenContextItem
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        if not isinstance(item.content, str):
            item = item.model_copy(
                update={"content": json.dumps(item.content, ensure_ascii=False, default=str)}
            )
        return await super().hidden_context_to_input(item)
