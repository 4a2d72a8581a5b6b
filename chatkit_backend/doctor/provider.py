"""The model provider: its configuration, and (``--live``) one tiny call."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync

from ..providers import ProviderConfig, model_name_for, resolve_provider
from ..providers.errors import describe_failure
from .findings import Finding, Options

# Reported by the provider check itself, with more detail.
PROVIDER_CHECK_IDS = {"chatkit_backend.W002", "chatkit_backend.W003"}


def check_provider(options: Options) -> Iterator[Finding]:
    config = resolve_provider()
    problems = config.problems()
    environment_note = (
        " (The doctor reads this shell's environment: make sure the server process gets the "
        "same variables.)"
    )
    for problem in problems:
        yield Finding(
            "fail",
            "provider",
            f"The model provider cannot work: {problem}",
            "Set it in CHATKIT_BACKEND or in the environment; see 'Model providers' in the "
            "README." + environment_note,
        )
    if not problems:
        where = config.base_url or "the provider's own endpoint"
        key = f", key from {config.key_setting}" if config.key_setting else ""
        if config.provider == "offline":
            yield Finding(
                "warn",
                "provider",
                "No model provider is configured: the offline demo model answers every chat.",
                "Set OPENAI_API_KEY (or LLM_PROVIDER and its key)." + environment_note,
            )
        else:
            yield Finding(
                "ok",
                "provider",
                f"{config.provider}, model {model_name_for(config)}, {where}{key}.",
            )
    if not options.live:
        return
    if problems:
        yield Finding("skip", "provider", "Live call skipped: fix the configuration first.")
    elif config.provider == "offline":
        yield Finding("skip", "provider", "Live call skipped: the offline model has no server.")
    else:
        yield live_call(config, options.timeout)


def redact(text: str, secret: str | None) -> str:
    """``text`` without ``secret`` or any long piece of it (providers quote keys back)."""
    if not secret:
        return text
    text = text.replace(secret, "***")

    def hide(match: re.Match[str]) -> str:
        return "***" if match.group(0) in secret else match.group(0)

    return re.sub(r"[A-Za-z0-9_\-]{8,}", hide, text)


def provider_refusal(error: BaseException) -> str:
    """The provider's own words for a failure: HTTP status, error code and message."""
    import openai

    if isinstance(error, openai.APIStatusError):
        body: Any = error.body
        if isinstance(body, list) and body:  # Gemini answers errors in a list
            body = body[0]
        detail = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(detail, dict):
            code = detail.get("code") or detail.get("status") or detail.get("type")
            message = detail.get("message") or ""
            return f"HTTP {error.status_code} ({code}): {message}".strip()
        return f"HTTP {error.status_code}: {detail or error.message}"
    cause = error.__cause__ or error.__context__
    reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    return f"{type(error).__name__}: {error}{reason}"


def live_call(config: ProviderConfig, timeout: float) -> Finding:
    """One tiny turn through the same model factory and run configuration chat turns use."""
    from agents import Agent, Runner

    from ..server import get_server

    config = dataclasses.replace(config, timeout=timeout, max_retries=0)
    agent = Agent(name="chatkit_doctor", instructions="Reply with the single word OK.")
    run_config = get_server().orchestrator.run_config(config)
    model = model_name_for(config)

    async def ping() -> str:
        # Streamed, as chat turns are: the same request, the same parsing of the answer.
        result = Runner.run_streamed(agent, "Say OK.", run_config=run_config, max_turns=1)
        async for _ in result.stream_events():
            pass
        return str(result.final_output)

    try:
        answer = async_to_sync(ping)()
    except Exception as error:
        hint = describe_failure(error, config) or "See the provider's message."
        return Finding(
            "fail",
            "provider",
            f"Live call to {config.provider} (model {model}) refused: "
            + redact(provider_refusal(error), config.api_key),
            redact(hint, config.api_key),
        )
    return Finding(
        "ok",
        "provider",
        f"Live call to {config.provider} (model {model}) answered: "
        f"{redact(answer, config.api_key)[:60]!r}.",
    )
