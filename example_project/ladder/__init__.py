"""Learn ChatKit step by step: four small, runnable steps, each one file.

Pick one with the ``EXAMPLE_AGENT`` environment variable (unset: the demo agent of
``example_project.demo``):

- ``basic`` (:mod:`.basic`): a server whose ``respond()`` streams an answer itself, with no
  agent and no model: the ChatKit protocol layer alone.
- ``agent`` (:mod:`.agent`): an Agents SDK agent with instructions.
- ``tool`` (:mod:`.tool`): function tools, a widget with a server action (streaming and
  sync), a client tool that switches the page's theme, and progress updates.
- ``multi_agent`` (:mod:`.multi_agent`): a triage agent handing off to two specialists (the
  thread remembers which), an agent used as a tool, and a guardrail.

Without a provider key the offline demo model answers every step, deterministically: name a
tool (``get_weather``) or an agent (``billing``) in a message and it calls or hands off to it.

This module only names dotted paths, so ``settings.py`` can import it before Django is set up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Step:
    """One step of the ladder: what it puts in ``CHATKIT_BACKEND`` and what the page offers."""

    name: str
    chatkit_backend: dict[str, Any]
    placeholder: str
    prompts: list[dict[str, str]] = field(default_factory=list)


def _prompt(label: str, prompt: str | None = None) -> dict[str, str]:
    return {"label": label, "prompt": prompt or label}


DEMO = Step(
    name="demo",
    chatkit_backend={"AGENT": "example_project.demo.agents.build_agent"},
    placeholder="Ask something, or name a tool: get_current_time, roll_dice",
    prompts=[
        _prompt(
            "What time is it in Paris?",
            'What time is it in Paris? Use get_current_time {"timezone": "Europe/Paris"}',
        ),
        _prompt("Roll a die", 'Please roll_dice {"sides": 20}'),
    ],
)

STEPS: dict[str, Step] = {
    "basic": Step(
        name="basic",
        chatkit_backend={"SERVER_CLASS": "example_project.ladder.basic.BasicServer"},
        placeholder="Say anything: the server answers without a model",
        prompts=[_prompt("Hello, protocol!")],
    ),
    "agent": Step(
        name="agent",
        chatkit_backend={"AGENT": "example_project.ladder.agent.build_agent"},
        placeholder="Ask the agent something",
        prompts=[_prompt("Who are you?")],
    ),
    "tool": Step(
        name="tool",
        chatkit_backend={
            "AGENT": "example_project.ladder.tool.build_agent",
            "SERVER_CLASS": "example_project.ladder.tool.ToolServer",
        },
        placeholder="Name a tool: get_weather, show_counter, switch_theme",
        prompts=[
            _prompt("Weather in Lima", 'get_weather {"city": "Lima"}'),
            _prompt("Show a counter", "show_counter"),
            _prompt("Switch the theme", 'switch_theme {"theme": "dark"}'),
        ],
    ),
    "multi_agent": Step(
        name="multi_agent",
        chatkit_backend={"AGENT": "example_project.ladder.multi_agent.build_agent"},
        placeholder="Ask for billing or shipping, or to translate something",
        prompts=[
            _prompt("My invoice is wrong (billing)"),
            _prompt("Where is my parcel? (shipping)"),
            _prompt("translate good morning"),
        ],
    ),
}


def step(name: str | None) -> Step:
    """The step named ``name`` (``None`` or ``""``: the demo agent).

    Raises ``ImproperlyConfigured`` for any other name, so a typo in ``EXAMPLE_AGENT`` stops
    the site at startup instead of quietly answering with the demo agent.
    """
    if not name:
        return DEMO
    try:
        return STEPS[name]
    except KeyError:
        choices = ", ".join(STEPS)
        raise ImproperlyConfigured(
            f"EXAMPLE_AGENT={name!r} is not a step of the ladder: use one of {choices}, "
            "or leave it unset for the demo agent."
        ) from None
