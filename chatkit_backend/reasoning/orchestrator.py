"""The reasoning layer: from a thread's history to a streamed Agents SDK run.

It knows nothing about HTTP. The server hands it a turn (a thread, the new user message if
any, the request context); it builds the model input from stored history, resolves the
agent, runs it and streams ChatKit events back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from agents import (
    Agent,
    InputGuardrailTripwireTriggered,
    ModelSettings,
    OutputGuardrailTripwireTriggered,
    RunConfig,
    RunHooks,
    Runner,
    RunResultStreaming,
)
from agents.run_config import ToolErrorFormatterArgs
from chatkit.agents import AgentContext, ResponseStreamConverter, ThreadItemConverter
from chatkit.errors import CustomStreamError
from chatkit.types import (
    InferenceOptions,
    NoticeEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)

from ..conf import conf
from ..context import RequestContext
from ..providers import (
    ChatKitModelProvider,
    ProviderConfig,
    create_model,
    model_name_for,
    resolve_provider,
    tracing_enabled,
)
from ..providers.errors import describe_failure, provider_reason
from ..turns import UsageMeter, budget_notice, text_chars
from . import choices, handoffs, titles
from .agents import resolve_agent
from .guardrails import tripped
from .images import StoredImageConverter
from .progress import ProgressUpdates
from .streaming import stream_run

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


class Orchestrator(titles.TitleWriting):
    """Runs one agent turn for a thread: the server's ``respond()``.

    An extension point: subclass it and name the subclass in a ``DjangoChatKitServer``
    subclass's ``orchestrator_class`` to change how the model input is built
    (:meth:`build_input`, :meth:`converter`), which agent starts (:meth:`starting_agent`),
    how the run is configured (:meth:`run_config`, :meth:`run_hooks`,
    :meth:`stream_converter`), how a new thread is titled (:meth:`start_title`,
    :meth:`write_title`) or how its spending is measured and kept (:meth:`usage_meter`,
    :meth:`record_usage`).
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

    def run_hooks(self) -> RunHooks[Any] | None:
        """Hooks for one run: by default, tool calls and handoffs announced as progress updates."""
        return ProgressUpdates()

    def stream_converter(
        self, thread: ThreadMetadata, context: RequestContext
    ) -> ResponseStreamConverter:
        """How streamed output becomes items: generated images go to storage."""
        return StoredImageConverter(thread.id, context)

    async def root_agent(self, context: RequestContext) -> Agent[Any]:
        return await resolve_agent(conf.imported("AGENT"), context)

    def starting_agent(self, root: Agent[Any], thread: ThreadMetadata) -> Agent[Any]:
        """The agent this turn starts at: the one the thread talked to last (after a handoff),
        else ``root`` (see :mod:`~chatkit_backend.reasoning.handoffs`)."""
        return handoffs.starting_agent(root, thread)

    async def reset_agent(self, thread: ThreadMetadata, context: RequestContext) -> str:
        """Send the thread's next turn to the root agent; returns the root agent's name."""
        handoffs.forget_active_agent(thread)
        return (await self.root_agent(context)).name

    async def refusal(
        self, options: InferenceOptions, thread: ThreadMetadata | None, context: RequestContext
    ) -> str | None:
        """Why a message's picks (model, tool) cannot be honoured, or ``None``."""
        problem = choices.model_refusal(options)
        if problem is None and options.tool_choice is not None:
            try:
                root = await self.root_agent(context)
            except Exception:  # a broken AGENT: the turn reports it, as an error event
                return None
            agent = self.starting_agent(root, thread) if thread is not None else root
            problem = choices.tool_refusal(options, agent)
        return problem

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        turn = context.turn
        if turn is not None and turn.stopped is not None:
            return  # the thread was deleted before the model was asked
        if turn is not None and turn.warn_budget:
            turn.warn_budget = False
            yield NoticeEvent(level="warning", message=budget_notice())
        provider = resolve_provider()
        title = self.start_title(thread, input_user_message, context, provider)
        try:
            async for event in self.run_turn(thread, input_user_message, context, provider):
                yield event
                if title is not None:
                    title.settle(thread)
            if title is not None:
                await title.finish(thread)
        except (InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered) as error:
            if title is not None:
                await title.finish(thread)
            for event in tripped(error, thread, self.store.generate_item_id, context):
                yield event
        except Exception as error:
            if title is not None:
                title.abandon(thread)
            raise self.failure(error, thread, provider) from error
        finally:
            if title is not None:
                title.cancel()

    async def run_turn(
        self,
        thread: ThreadMetadata,
        message: UserMessageItem | None,
        context: RequestContext,
        provider: ProviderConfig,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Run the agent and stream its events; remember the agent it ended at."""
        root = await self.root_agent(context)
        agent = self.starting_agent(root, thread)
        model_input = await self.build_input(thread, context)
        choice = await self.choose(thread, message, agent, context)
        config = self.run_config(provider)
        self.apply_choice(config, choice, provider)
        agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
        result = Runner.run_streamed(
            agent, model_input, context=agent_context, run_config=config, hooks=self.run_hooks()
        )
        meter = self.usage_meter(agent, model_input, result, provider)
        if choice.model:
            meter.model = lambda: str(choice.model)
        converter = self.stream_converter(thread, context)
        async for event in stream_run(agent_context, result, meter, self, converter):
            yield event
        handoffs.remember_active_agent(thread, root, result.last_agent)

    async def choose(
        self,
        thread: ThreadMetadata,
        message: UserMessageItem | None,
        agent: Agent[Any],
        context: RequestContext,
    ) -> choices.Choice:
        """The model and tool the user picked for this turn (their latest message's picks)."""
        latest = message or await self.latest_user_message(thread, context)
        options = latest.inference_options if latest is not None else None
        problem = choices.model_refusal(options) or (
            choices.tool_refusal(options, agent) if message is not None else None
        )
        if problem is not None:
            raise CustomStreamError(problem, allow_retry=False)
        return choices.choice_of(options, with_tool=message is not None)

    async def latest_user_message(
        self, thread: ThreadMetadata, context: RequestContext
    ) -> UserMessageItem | None:
        # The history this turn just read: the store answers it without a database hop.
        page = await self.store.load_thread_items(
            thread.id, None, conf.HISTORY_LIMIT, "desc", context
        )
        return next((item for item in page.data if isinstance(item, UserMessageItem)), None)

    def apply_choice(
        self, config: RunConfig, choice: choices.Choice, provider: ProviderConfig
    ) -> None:
        """Make the run use the picked model (every agent of it) and tool (its first step)."""
        if choice.model:
            # A model the user picked gets settings fitted to it, whatever the agent names.
            config.model = create_model(choice.model, provider, fit_implicit_settings=True)
        if choice.tool:
            picked = ModelSettings(tool_choice=choice.tool)
            # The Agents SDK resets it once a tool ran (Agent.reset_tool_choice), so the run
            # does not call the tool for ever.
            config.model_settings = (config.model_settings or ModelSettings()).resolve(picked)

    def failure(
        self, error: Exception, thread: ThreadMetadata, provider: ProviderConfig
    ) -> Exception:
        """The error event a failed turn ends with (a clear message), or ``error`` itself."""
        if isinstance(error, CustomStreamError):
            return error
        message = describe_failure(error, provider)
        if message is None:
            return error
        reason = provider_reason(error, provider)
        if reason is not None:
            # What the provider said: the user's message names the kind of failure only.
            logger.warning("The model provider (%s) answered %s", provider.provider, reason)
        logger.warning("Turn failed in thread %s: %s", thread.id, message)
        # The user's message is already stored, so retrying the turn works.
        return CustomStreamError(message, allow_retry=True)

    # -- usage -----------------------------------------------------------------------------

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

    def keep_usage(self, meter: UsageMeter, context: RequestContext) -> None:
        """Count ``meter``'s run in the turn, which charges it however the turn ends."""
        if context.turn is not None:
            context.turn.meter(meter)

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
