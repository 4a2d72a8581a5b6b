"""The reasoning layer: from a thread's history to a streamed Agents SDK run.

It knows nothing about HTTP. The server hands it a turn (a thread, the new user message if
any, the request context); it builds the model input from stored history, resolves the
agent, runs it and streams ChatKit events back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from agents import RunConfig, Runner, RunResultStreaming
from agents.run_config import ToolErrorFormatterArgs
from chatkit.agents import AgentContext, ThreadItemConverter, stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem

from ..conf import conf
from ..context import RequestContext
from ..providers import (
    ChatKitModelProvider,
    ProviderConfig,
    model_name_for,
    resolve_provider,
    tracing_enabled,
)
from ..providers.errors import describe_failure, provider_reason
from ..turns import UsageMeter, text_chars
from .agents import resolve_agent
from .store_ids import with_store_ids
from .titles import make_title

if TYPE_CHECKING:
    from ..store import DjangoStore

logger = logging.getLogger(__name__)


def log_tool_error(args: ToolErrorFormatterArgs[Any]) -> None:
    """Log a function tool that raised, with its traceback.

    The Agents SDK tells the model "An error occurred while running the tool" and logs nothing
    a fresh site shows; the developer needs the exception. Returning ``None`` keeps the SDK's
    message to the model (which never sees the exception's text).
    """
    if args.kind == "tool_exception" and args.error is not None:
        logger.error("Tool %s raised (call %s)", args.tool_name, args.call_id, exc_info=args.error)


class Orchestrator:
    """Runs one agent turn for a thread: the server's ``respond()``.

    An extension point: subclass it and name the subclass in a ``DjangoChatKitServer``
    subclass's ``orchestrator_class`` to change how the model input is built
    (:meth:`build_input`, :meth:`converter`), how the run is configured (:meth:`run_config`)
    or how its spending is measured and kept (:meth:`usage_meter`, :meth:`record_usage`).
    """

    def __init__(self, store: DjangoStore):
        self.store = store

    def converter(self) -> ThreadItemConverter:
        return conf.imported("HISTORY_CONVERTER")()

    async def build_input(self, thread: ThreadMetadata, context: RequestContext) -> list[Any]:
        """The newest ``HISTORY_LIMIT`` items, oldest first, as model input.

        The store hands its database connection back after this read: the model may take
        seconds, and open streams should not each hold a connection meanwhile.
        """
        page = await self.store.load_history(thread.id, conf.HISTORY_LIMIT, context)
        return await self.converter().to_agent_input(list(reversed(page.data)))

    def run_config(self, provider: ProviderConfig) -> RunConfig:
        return RunConfig(
            model_provider=ChatKitModelProvider(provider),
            tracing_disabled=not tracing_enabled(provider),
            tool_error_formatter=log_tool_error,
        )

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        turn = context.turn
        if turn is not None and turn.stopped is not None:
            return  # the thread was deleted before the model was asked
        if thread.title is None and input_user_message is not None:
            # The server saves the thread and tells the client once the first event passes.
            thread.title = make_title(input_user_message, conf.TITLE_MAX_LENGTH)

        provider = resolve_provider()
        agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
        result: RunResultStreaming | None = None
        meter: UsageMeter | None = None
        try:
            agent = await resolve_agent(conf.imported("AGENT"), context)
            model_input = await self.build_input(thread, context)
            result = Runner.run_streamed(
                agent, model_input, context=agent_context, run_config=self.run_config(provider)
            )
            meter = self.usage_meter(agent, model_input, result, provider)
            if turn is not None:
                turn.meter(meter)  # the turn charges it, however the turn ends
            events = stream_agent_response(agent_context, result)
            async for event in with_store_ids(events, agent_context.generate_id):
                meter.observe(event)
                yield event
            # Not when the turn stopped it: a cancelled run ends its stream quietly too.
            meter.completed = turn is None or turn.stopped is None
        except Exception as error:
            message = describe_failure(error, provider)
            if message is None:
                raise
            reason = provider_reason(error, provider)
            if reason is not None:
                # What the provider said: the user's message names the kind of failure only.
                logger.warning("The model provider (%s) answered %s", provider.provider, reason)
            logger.warning("Turn failed in thread %s: %s", thread.id, message)
            # The user's message is already stored, so retrying the turn works.
            raise CustomStreamError(message, allow_retry=True) from error
        finally:
            # On a client disconnect (CancelledError) or any failure, stop the Agents run too:
            # otherwise it keeps calling the model, and spending, for nobody.
            if result is not None and not result.is_complete:
                result.cancel()
            if turn is None and meter is not None:
                # Outside a turn (server code calling respond() itself), what the run spent
                # is recorded here; a turn records it when it ends.
                try:
                    await self.record_usage(thread, meter, context)
                except Exception:  # never hide the turn's own outcome behind bookkeeping
                    logger.exception("Could not record usage for thread %s", thread.id)

    def usage_meter(
        self,
        agent: Any,
        model_input: list[Any],
        result: RunResultStreaming,
        provider: ProviderConfig,
    ) -> UsageMeter:
        """What measures the run's spending (see :class:`~chatkit_backend.turns.UsageMeter`)."""
        instructions = agent.instructions if isinstance(agent.instructions, str) else ""
        return UsageMeter(
            provider=provider.provider,
            model=lambda: self.model_label(result, provider),
            input_chars=text_chars(model_input) + len(instructions),
            run=result,
        )

    @staticmethod
    def model_label(result: RunResultStreaming, provider: ProviderConfig) -> str:
        """The name of the model that answered, for usage records."""
        model = result.last_agent.model
        if model is None or isinstance(model, str):
            # The provider factory chose: the agent's name for it, LLM_MODEL or the default.
            return str(model_name_for(provider, model) or "")
        return str(getattr(model, "model", None) or type(model).__name__)

    async def record_usage(
        self, thread: ThreadMetadata, meter: UsageMeter, context: RequestContext
    ) -> None:
        """Keep what a run spent, for budgets and the admin's usage views."""
        charge = meter.charge()
        if charge is not None:
            await self.store.record_usage(thread.id, context, **charge.fields())
