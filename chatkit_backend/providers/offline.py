"""The offline demo model: a local, deterministic stand-in for a real provider.

Like Django's console email backend, it lets a fresh install work end to end with nothing
configured, and says so in every answer. It streams a short explanation of how to configure
a real provider and, when the user names one of the agent's function tools, calls that tool
(arguments from a JSON object in the message, if any, else the message's text for each
string parameter without a default) and reports what it returned; when the
user names an agent the current one hands off to ("billing"), it hands off to that agent,
which then says it has taken over.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

from agents import FunctionTool, Model, ModelResponse, Usage
from agents.items import TResponseInputItem, TResponseStreamEvent
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseUsage,
)

from . import events

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


def _requested_handoff(text: str, handoffs: list[Any]) -> Any:
    lowered = text.lower()
    for handoff in handoffs:
        names = (handoff.agent_name.lower(), handoff.tool_name.lower())
        if any(name in lowered or name.replace("_", " ") in lowered for name in names):
            return handoff
    return None


def _handed_to(output: Any) -> str | None:
    """The agent a handoff's output names (the SDK sends ``{"assistant": name}``)."""
    try:
        value = json.loads(output) if isinstance(output, str) else output
    except ValueError:
        return None
    name = value.get("assistant") if isinstance(value, dict) else None
    return name if isinstance(name, str) else None


def _call(name: str, arguments: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        id=f"fc_{secrets.token_hex(8)}",
        call_id=f"call_{secrets.token_hex(8)}",
        type="function_call",
        name=name,
        arguments=arguments,
        status="completed",
    )


def _handoffs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """The handoffs of a ``Model.get_response`` / ``stream_response`` call: the argument after
    ``tools`` and ``output_schema``."""
    return list(kwargs.get("handoffs") or (args[1] if len(args) > 1 else []))


def _arguments_for(tool: FunctionTool, text: str) -> str:
    """A call's arguments: the JSON object in the message, if any; else the message's text for
    each string parameter without a default (an agent used as a tool needs its ``input``).
    Strict schemas list every parameter as required, so a default is what marks it optional."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match:
        try:
            return json.dumps(json.loads(match.group(0)))
        except ValueError:
            pass
    schema = tool.params_json_schema or {}
    properties = schema.get("properties") or {}
    return json.dumps(
        {
            name: text
            for name in schema.get("required") or []
            if (properties.get(name) or {}).get("type") == "string"
            and "default" not in properties[name]
        }
    )


class OfflineModel(Model):
    """A deterministic model that needs no network and no key."""

    def __init__(self, name: str = "offline-demo", *, delay: float = 0.0):
        self.name = name
        self.delay = delay

    def _plan(
        self, input: str | list[TResponseInputItem], tools: list[Any], handoffs: list[Any] = ()
    ) -> list[Any]:
        items: list[dict[str, Any]] = (
            [{"role": "user", "content": input}] if isinstance(input, str) else list(input)  # type: ignore[list-item]
        )
        last = items[-1] if items else {}
        text = _last_user_text(items)
        quoted = f' You said: "{text[:200]}".' if text else ""
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
            agent = _handed_to(last.get("output")) if name.startswith("transfer_to_") else None
            if agent is not None:
                return [events.message(f"{LABEL} The {agent} agent has taken over.{quoted}")]
            return [events.message(f"{LABEL} The tool `{name}` returned: {last.get('output')}")]
        handoff = _requested_handoff(text, list(handoffs))
        if handoff is not None:
            return [_call(handoff.tool_name, "{}")]
        tool = _requested_tool(text, tools)
        if tool is not None:
            return [_call(tool.name, _arguments_for(tool, text))]
        names = [tool.name for tool in tools if isinstance(tool, FunctionTool)]
        tools_hint = (
            f" Mention a tool to see the agent call it: {', '.join(f'`{n}`' for n in names)}."
            if names
            else ""
        )
        return [events.message(f"{LABEL}{quoted} {HOW_TO_CONFIGURE}{tools_hint}")]

    @staticmethod
    def _usage(output: list[Any], input_words: int) -> ResponseUsage:
        output_words = sum(
            len(part.text.split())
            for item in output
            if isinstance(item, ResponseOutputMessage)
            for part in item.content
            if isinstance(part, ResponseOutputText)
        )
        return events.usage(input_words, output_words)

    @staticmethod
    def _input_words(input: str | list[TResponseInputItem]) -> int:
        if isinstance(input, str):
            return len(input.split())
        return sum(len(_text_of(item.get("content")).split()) for item in input)  # type: ignore[union-attr]

    async def get_response(
        self, system_instructions, input, model_settings, tools, *args, **kwargs
    ):  # type: ignore[override]
        output = self._plan(input, tools, _handoffs(args, kwargs))
        tokens = self._usage(output, self._input_words(input))
        usage = Usage(
            requests=1,
            input_tokens=tokens.input_tokens,
            output_tokens=tokens.output_tokens,
            total_tokens=tokens.total_tokens,
        )
        return ModelResponse(output=output, usage=usage, response_id=None)

    async def stream_response(  # type: ignore[override]
        self, system_instructions, input, model_settings, tools, *args, **kwargs
    ) -> AsyncIterator[TResponseStreamEvent]:
        output = self._plan(input, tools, _handoffs(args, kwargs))
        async for event in events.stream_output(
            output,
            model=self.name,
            tokens=self._usage(output, self._input_words(input)),
            deltas=lambda text: re.findall(r"\S+\s*", text),
            delay=self.delay,
        ):
            yield event
