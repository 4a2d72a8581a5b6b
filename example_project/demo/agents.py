"""The agent of the example site: instructions and two function tools.

``CHATKIT_BACKEND["AGENT"]`` points at :func:`build_agent`, which is called for every request
with the request context. No model is set on the agent: ``chatkit_backend.providers`` picks it
from ``LLM_PROVIDER`` / ``OPENAI_API_KEY`` / ``GEMINI_API_KEY``..., and with nothing configured
the offline demo model answers (and calls a tool when you name it, e.g. "roll_dice").
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents import Agent, function_tool

from chatkit_backend.context import RequestContext


@function_tool
def get_current_time(timezone: str = "UTC") -> str:
    """Return the current date and time in an IANA time zone.

    Args:
        timezone: An IANA time zone name such as "UTC", "Europe/Paris" or "America/New_York".
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"Unknown time zone {timezone!r}; use an IANA name such as 'Europe/Paris'."
    return datetime.now(zone).isoformat(timespec="seconds")


@function_tool
def roll_dice(sides: int = 6) -> str:
    """Roll one die and return the result.

    Args:
        sides: How many sides the die has, from 2 to 1000.
    """
    if not 2 <= sides <= 1000:
        return "A die has between 2 and 1000 sides."
    return str(random.randint(1, sides))  # a game, not cryptography


INSTRUCTIONS = (
    "You are the assistant of a demo site built with django-chatkit-backend. "
    "Answer clearly and concisely. Use get_current_time for questions about the date or time "
    "and roll_dice when asked to roll a die."
)


def build_agent(context: RequestContext) -> Agent[Any]:
    """The agent for one request: the place to tailor instructions or tools to the user."""
    instructions = INSTRUCTIONS
    user = context.user
    if user is not None and user.is_authenticated:
        instructions += f" The user's username is {user.get_username()}."
    return Agent(
        name="Demo assistant",
        instructions=instructions,
        tools=[get_current_time, roll_dice],
    )
