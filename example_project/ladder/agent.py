"""Step 2, ``agent``: an Agents SDK agent with instructions answers each turn.

``CHATKIT_BACKEND["AGENT"]`` points at :func:`build_agent`, called for every request with the
request context (so instructions can depend on the user). The agent names no model: the
provider factory picks it from ``LLM_PROVIDER`` / ``OPENAI_API_KEY`` / ``GEMINI_API_KEY``, and
with none set the offline demo model answers (it says so in every answer). The library runs the
agent: it builds the model input from the thread's stored history, streams the answer as
ChatKit events, titles the thread and records usage.

Run it with ``EXAMPLE_AGENT=agent python manage.py runserver``.
"""

from __future__ import annotations

from typing import Any

from agents import Agent

from chatkit_backend.context import RequestContext

INSTRUCTIONS = (
    "You are a friendly guide to ChatKit on Django, step 2 of a tutorial. Answer in at most "
    "three sentences. When asked what comes next, say that step 3 gives the agent tools."
)


def build_agent(context: RequestContext) -> Agent[Any]:
    """The agent for one request."""
    instructions = INSTRUCTIONS
    user = context.user
    if user is not None and user.is_authenticated:
        instructions += f" The user's name is {user.get_username()}."
    return Agent(name="Guide", instructions=instructions)
