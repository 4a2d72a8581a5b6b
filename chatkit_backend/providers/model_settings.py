"""Model classes that send the reasoning and verbosity settings fitting the model in use."""

from __future__ import annotations

import dataclasses
from typing import Any

from agents import ModelSettings, OpenAIChatCompletionsModel, OpenAIResponsesModel
from agents.models import get_default_model_settings


class FitsModelSettings:
    """Sends the reasoning and verbosity settings that fit the model actually used.

    An agent that names no model gets the Agents SDK's default ``ModelSettings``, made for the
    SDK's default model (a GPT-5 model in openai-agents 0.24): ``reasoning.effort`` and
    ``verbosity``, which other models refuse with HTTP 400. When the provider factory picks the
    model (``LLM_MODEL`` or the provider's default) and those two fields are still the SDK's
    implicit defaults, they become what the SDK gives the model in use: nothing for
    gpt-4.1-mini, Gemini or a local model, GPT-5's own defaults for a GPT-5 model. Settings an
    agent or a run sets itself are sent as set; so is everything when the agent names its
    model (the SDK then fits its defaults to that name).
    """

    model: str  # set by the model class this is mixed into

    def __init__(self, *args: Any, fit_implicit_settings: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fit_implicit_settings = fit_implicit_settings

    def fitted(self, settings: ModelSettings) -> ModelSettings:
        if not self.fit_implicit_settings:
            return settings
        implicit = get_default_model_settings()  # what an agent without a model starts with
        if (settings.reasoning, settings.verbosity) != (implicit.reasoning, implicit.verbosity):
            return settings
        fitting = get_default_model_settings(self.model)
        return dataclasses.replace(
            settings, reasoning=fitting.reasoning, verbosity=fitting.verbosity
        )

    async def get_response(
        self, system_instructions: Any, input: Any, model_settings: ModelSettings, *args, **kwargs
    ) -> Any:
        return await super().get_response(  # type: ignore[misc]
            system_instructions, input, self.fitted(model_settings), *args, **kwargs
        )

    def stream_response(
        self, system_instructions: Any, input: Any, model_settings: ModelSettings, *args, **kwargs
    ) -> Any:
        return super().stream_response(  # type: ignore[misc]
            system_instructions, input, self.fitted(model_settings), *args, **kwargs
        )


class ResponsesModel(FitsModelSettings, OpenAIResponsesModel):
    """The Agents SDK's Responses model, with settings that fit the model in use."""


class ChatCompletionsModel(FitsModelSettings, OpenAIChatCompletionsModel):
    """The Agents SDK's Chat Completions model, with settings that fit the model in use."""
