"""Step 4, ``multi_agent``: triage, two specialists, an agent used as a tool, a guardrail.

- **Handoffs.** The triage agent hands the user to ``Billing`` or ``Shipping``. The widget
  shows "Handing off to Billing…" as a progress update, and the thread remembers the
  specialist: the next message starts there, not at triage. The custom action
  ``chatkit_backend.reset_agent`` (or ``chatkit_backend.threads.reset_agent`` in server code)
  sends the thread back to triage.
- **An agent as a tool.** ``translate`` is the ``Translator`` agent wrapped with
  ``Agent.as_tool()``: triage calls it, gets its answer back as the tool's output and uses it.
- **A workflow.** Shipping's ``track_parcel`` shows the steps it took as workflow tasks.
- **A guardrail.** :func:`no_passwords` trips when a message looks like it shares a
  password; the user sees a notice instead of an answer, and the thread stays usable.

With no provider key the offline demo model drives it: name an agent ("billing",
"shipping") to be handed off, a tool ("translate", then at Billing "lookup_invoice", at
Shipping "track_parcel") to have it called; say "password" to trip the guardrail.

Run it with ``EXAMPLE_AGENT=multi_agent python manage.py runserver``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agents import (
    Agent,
    GuardrailFunctionOutput,
    RunContextWrapper,
    TResponseInputItem,
    function_tool,
    input_guardrail,
)
from agents.models.interface import Model
from chatkit.agents import AgentContext
from chatkit.types import CustomTask

from chatkit_backend.context import RequestContext

PASSWORD = re.compile(r"\bpass(word|wd|phrase)\b", re.IGNORECASE)


def latest_user_text(input: str | list[TResponseInputItem]) -> str:
    """The text of the newest user message of a run's input (earlier ones were checked)."""
    if isinstance(input, str):
        return input
    for item in reversed(input):
        if isinstance(item, dict) and item.get("role") == "user":
            return json.dumps(item.get("content"))
    return ""


@input_guardrail(run_in_parallel=False)  # decide before the model is asked anything
def no_passwords(
    context: RunContextWrapper[Any], agent: Agent[Any], input: str | list[TResponseInputItem]
) -> GuardrailFunctionOutput:
    """Stop messages that seem to share a password: no agent here needs one."""
    return GuardrailFunctionOutput(
        output_info={"message": "Please don't share passwords here: none of our agents need one."},
        tripwire_triggered=bool(PASSWORD.search(latest_user_text(input))),
    )


@function_tool
def lookup_invoice(invoice_id: str = "INV-1001") -> str:
    """Find an invoice by its number (demo data).

    Args:
        invoice_id: The invoice's number, e.g. "INV-1001".
    """
    return f"Invoice {invoice_id}: 42.00 EUR, paid on 2026-11-02 (demo data)."


@function_tool
async def track_parcel(ctx: RunContextWrapper[AgentContext], parcel_id: str = "PKG-7") -> str:
    """Where a parcel is (demo data).

    Args:
        parcel_id: The parcel's tracking number, e.g. "PKG-7".
    """
    # A workflow: the steps the tool took, shown (and kept) as one collapsible item.
    for title in (f"Found {parcel_id}", "Asked the depot", "On the van since 08:10"):
        await ctx.context.add_workflow_task(CustomTask(title=title))
    return f"Parcel {parcel_id} is out for delivery (demo data)."


def build_team(model: str | Model | None = None) -> Agent[Any]:
    """The triage agent and everything it reaches. ``model``: for every agent (tests pass a
    scripted one); ``None`` lets the provider factory choose."""
    guardrails = [no_passwords]  # on every agent: a turn may start at a specialist
    billing = Agent(
        name="Billing",
        handoff_description="Invoices, payments and refunds.",
        instructions="You handle invoices and payments. Use lookup_invoice to find an invoice.",
        tools=[lookup_invoice],
        input_guardrails=guardrails,
        model=model,
    )
    shipping = Agent(
        name="Shipping",
        handoff_description="Deliveries and parcels.",
        instructions="You handle deliveries. Use track_parcel to find a parcel.",
        tools=[track_parcel],
        input_guardrails=guardrails,
        model=model,
    )
    translator = Agent(
        name="Translator",
        instructions="Translate the text you are given into French. Answer with the "
        "translation only.",
        model=model,
    )
    return Agent(
        name="Triage",
        instructions=(
            "You are the front desk of a demo shop. Hand invoices and payments to Billing, "
            "deliveries to Shipping. When asked to translate, call translate and give its "
            "answer. Answer anything else briefly yourself."
        ),
        handoffs=[billing, shipping],
        tools=[
            translator.as_tool(
                tool_name="translate",
                tool_description="Translate a text into French.",
            )
        ],
        input_guardrails=guardrails,
        model=model,
    )


def build_agent(context: RequestContext) -> Agent[Any]:
    """The root agent for one request (``CHATKIT_BACKEND["AGENT"]``)."""
    return build_team()
