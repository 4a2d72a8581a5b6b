"""What the user picked in the composer: a model from ``MODEL_CHOICES``, and a tool.

ChatKit sends both with each message, as the message's ``inference_options``: ``model`` is
the id of one of the page's ``composer.models`` options, ``tool_choice.id`` the id of one of
its ``composer.tools``. A model is honoured only when ``MODEL_CHOICES`` offers it (so nobody
runs up the bill on a model the site did not offer); a tool only when the agent that answers
has a tool of that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatkit.types import InferenceOptions

from ..conf import conf


def model_options() -> list[dict[str, Any]]:
    """``MODEL_CHOICES`` in the shape of @openai/chatkit's ``composer.models`` option."""
    return [dict(option) for option in conf.MODEL_CHOICES or []]


def offered(model: str) -> bool:
    """Whether a user may pick ``model``: it is one of ``MODEL_CHOICES``, and not disabled."""
    return any(option["id"] == model and not option.get("disabled") for option in model_options())


@dataclass(frozen=True)
class Choice:
    """The model and tool a turn runs with, as the user picked them (``None``: not picked)."""

    model: str | None = None
    tool: str | None = None


def model_refusal(options: InferenceOptions | None) -> str | None:
    """Why the picked model cannot be used, or ``None`` when it can (or none was picked)."""
    model = options.model if options is not None else None
    if not model or offered(model):
        return None
    if not conf.MODEL_CHOICES:
        return "This assistant does not let you pick a model."
    return f"The model {model!r} is not one you can pick here."


def tool_names(agent: Any) -> set[str]:
    """The names of ``agent``'s tools: what ``tool_choice`` may name."""
    return {name for tool in agent.tools if isinstance(name := getattr(tool, "name", None), str)}


def tool_refusal(options: InferenceOptions | None, agent: Any) -> str | None:
    """Why the picked tool cannot be used by ``agent``, or ``None``."""
    tool = options.tool_choice.id if options is not None and options.tool_choice else None
    if tool is None or tool in tool_names(agent):
        return None
    return f"The tool {tool!r} is not available here."


def choice_of(options: InferenceOptions | None, *, with_tool: bool) -> Choice:
    """The user's picks (already checked). ``with_tool``: only for the picked message's own
    run; a continuation (a client tool's output, a widget action) is not forced again."""
    if options is None:
        return Choice()
    tool = options.tool_choice.id if with_tool and options.tool_choice else None
    return Choice(model=options.model or None, tool=tool)
