"""The offline demo model: a local, deterministic stand-in for a real provider.

Like Django's console email backend, it lets a fresh install work end to end with nothing
configured, and says so in every answer. It streams a short explanation of how to configure
a real provider and, when the user names one of the agent's function tools, calls that tool
(arguments from a JSON object in the message, if any) and reports what it returned.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

from agents import FunctionTool, Model, ModelResponse, Usage
from agents.items import TResponseInputItem, TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

LABEL = "**Offline demo model.**"
HOW_TO_CONFIGURE = (
    "This answer comes from chatkit_backend's built-in demo model, not from an AI. "
    "To talk to a real model, set `OPENAI_API_KEY` (or `LLM_PROVIDER=gemini` and "
    "`GEMINI_API_KEY`, or `LLM_PROVIDER=openai_compatible` with `LLM_BASE_URL` and "
    "`LLM_MODEL`) and restart the server."
)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(
        part.get("text", "") for part in content or [] if isinstance(part, dict)
    ).strip()


def _last_user_text(items: list[dict[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("role") == "user" and not _text_of(item.get("content")).startswith(
            "Hidden context"
        ):
            return _text_of(item.get("content"))
    return ""


def _requested_tool(text: str, tools: list[Any]) -> FunctionTool | None:
    lowered = text.lower()
    for tool in tools:
        if isinstance(tool, FunctionTool):
            name = tool.name.lower()
            if name in lowered or name.replace("_", " ") in lowered:
                return tool
    return None


def _arguments_in(text: str) -> str:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match:
        try:
            return json.dumps(json.loads(match.group(0)))
        except ValueError:
            pass
    return "{}"


class OfflineModel(Model):
    """A deterministic model that needs no network and no key."""

    def __init__(self, name: str = "offline-demo", *, delay: float = 0.0):
        self.name = name
        self.delay = delay

    def _plan(self, input: str | list[TResponseInputItem], tools: list[Any]) -> list[Any]:
        items: list[dict[str, Any]] = (
            [{"role": "user", "content": input}] if isinstance(input, str) else list(input)  # type: ignore[list-item]
        )
        last = items[-1] if items else {}
        if last.get("type") == "function_call_output":
            name = next(
                (
                    item.get("name")
                    for item in reversed(items)
                    if item.get("type") == "function_call"
                    and item.get("call_id") == last.get("call_id")
                ),
                "a tool",
            )
            return [self._message(f"{LABEL} The tool `{name}` returned: {last.get('output')}")]
        text = _last_user_text(items)
        tool = _requested_tool(text, tools)
        if tool is not None:
            call_id = f"call_{secrets.token_hex(8)}"
            return [
                ResponseFunctionToolCall(
                    id=f"fc_{secrets.token_hex(8)}",
                    call_id=call_id,
                    type="function_call",
                    name=tool.name,
                    arguments=_arguments_in(text),
                    status="completed",
                )
            ]
        names = [tool.name for tool in tools if isinstance(tool, FunctionTool)]
        tools_hint = (
            f" Mention a tool to see the agent call it: {', '.join(f'`{n}`' for n in names)}."
            if names
            else ""
        )
        quoted = f' You said: "{text[:200]}".' if text else ""
        return [self._message(f"{LABEL}{quoted} {HOW_TO_CONFIGURE}{tools_hint}")]

    @staticmethod
    def _message(text: str) -> ResponseOutputMessage:
        return ResponseOutputMessage(
            id=f"msg_{secrets.token_hex(8)}",
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )

    def _response(self, output: list[Any], input_words: int) -> Response:
        output_words = sum(
            len(part.text.split())
            for item in output
            if isinstance(item, ResponseOutputMessage)
            for part in item.content
            if isinstance(part, ResponseOutputText)
        )
        return Response(
            id=f"resp_{secrets.token_hex(8)}",
            created_at=0,
            model=self.name,
            object="response",
            output=output,
            tool_choice="auto",
            tools=[],
            top_p=None,
            parallel_tool_calls=False,
            status="completed",
            usage=ResponseUsage(
                input_tokens=input_words,
                output_tokens=output_words,
                total_tokens=input_words + output_words,
                input_tokens_details=InputTokensDetails.model_validate(
                    {"cached_tokens": 0, "cache_write_tokens": 0}
                ),
                output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
            ),
        )

    @staticmethod
    def _input_words(input: str | list[TResponseInputItem]) -> int:
        if isinstance(input, str):
            return len(input.split())
        return sum(len(_text_of(item.get("content")).split()) for item in input)  # type: ignore[union-attr]

    async def get_response(
        self, system_instructions, input, model_settings, tools, *args, **kwargs
    ):  # type: ignore[override]
        response = self._response(self._plan(input, tools), self._input_words(input))
        usage = Usage(
            requests=1,
            input_tokens=response.usage.input_tokens if response.usage else 0,
            output_tokens=response.usage.output_tokens if response.usage else 0,
            total_tokens=response.usage.total_tokens if response.usage else 0,
        )
        return ModelResponse(output=response.output, usage=usage, response_id=response.id)

    async def stream_response(  # type: ignore[override]
        self, system_instructions, input, model_settings, tools, *args, **kwargs
    ) -> AsyncIterator[TResponseStreamEvent]:
        output = self._plan(input, tools)
        response = self._response(output, self._input_words(input))
        seq = iter(range(1_000_000))
        pending = response.model_copy(update={"output": [], "status": "in_progress", "usage": None})
        yield ResponseCreatedEvent(
            type="response.created", response=pending, sequence_number=next(seq)
        )
        for index, item in enumerate(output):
            if isinstance(item, ResponseOutputMessage):
                async for event in self._stream_message(item, index, seq):
                    yield event
            else:
                yield ResponseOutputItemAddedEvent(
                    type="response.output_item.added",
                    item=item,
                    output_index=index,
                    sequence_number=next(seq),
                )
                yield ResponseOutputItemDoneEvent(
                    type="response.output_item.done",
                    item=item,
                    output_index=index,
                    sequence_number=next(seq),
                )
        yield ResponseCompletedEvent(
            type="response.completed", response=response, sequence_number=next(seq)
        )

    async def _stream_message(
        self, item: ResponseOutputMessage, index: int, seq: Any
    ) -> AsyncIterator[TResponseStreamEvent]:
        text = item.content[0].text  # type: ignore[union-attr]
        common = {"item_id": item.id, "output_index": index, "content_index": 0}
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            item=item.model_copy(update={"content": [], "status": "in_progress"}),
            output_index=index,
            sequence_number=next(seq),
        )
        yield ResponseContentPartAddedEvent(
            type="response.content_part.added",
            part=ResponseOutputText(type="output_text", text="", annotations=[]),
            sequence_number=next(seq),
            **common,
        )
        for word in re.findall(r"\S+\s*", text):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield ResponseTextDeltaEvent(
                type="response.output_text.delta",
                delta=word,
                logprobs=[],
                sequence_number=next(seq),
                **common,
            )
        yield ResponseTextDoneEvent(
            type="response.output_text.done",
            text=text,
            logprobs=[],
            sequence_number=next(seq),
            **common,
        )
        yield ResponseContentPartDoneEvent(
            type="response.content_part.done",
            part=item.content[0],
            sequence_number=next(seq),
            **common,
        )
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            item=item,
            output_index=index,
            sequence_number=next(seq),
        )
