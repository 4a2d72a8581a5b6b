"""Driving streaming turns over real HTTP, one event at a time, for the lifecycle tests.

A test reads a turn's events as they arrive and may act in the middle of it (delete the thread,
rename it, start another request) or drop the connection, as a browser tab can.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from chatkit.types import ErrorEvent, ThreadCreatedEvent, ThreadStreamEvent

from chatkit_backend.testing import message_input
from chatkit_backend.testing.wire import EVENT_ADAPTER, text_deltas
from tests.support.fake_provider import FakeProvider

API = "/chatkit/api"
ANSWER_WORDS = 20
SLOW_ANSWER = " ".join(f"word{n:02d}" for n in range(ANSWER_WORDS))

# What a test callback returns to drop the connection after an event.
DISCONNECT = "disconnect"


@dataclass
class StreamedTurn:
    """What the client of one streaming request saw."""

    status: int
    content_type: str
    events: list[ThreadStreamEvent] = field(default_factory=list)
    body: Any = None  # the JSON body of a non-streaming answer (an error)
    disconnected: bool = False

    @property
    def thread_id(self) -> str | None:
        for event in self.events:
            if isinstance(event, ThreadCreatedEvent):
                return event.thread.id
        return None

    @property
    def deltas(self) -> list[str]:
        return text_deltas(self.events)

    @property
    def text(self) -> str:
        return "".join(self.deltas)

    @property
    def errors(self) -> list[ErrorEvent]:
        return [event for event in self.events if isinstance(event, ErrorEvent)]

    @property
    def error_code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if self.status != 200 else None


OnEvent = Callable[[ThreadStreamEvent, StreamedTurn], str | None]


def stream_turn(
    http: httpx.Client, op: str, on_event: OnEvent | None = None, **params
) -> StreamedTurn:
    """POST a streaming op and read its events; ``on_event`` may act after each one.

    When ``on_event`` returns :data:`DISCONNECT` the connection is dropped there (the client
    is closed, as a closed tab would).
    """
    body = json.dumps({"type": op, "params": params})
    with http.stream(
        "POST", API, content=body, headers={"Content-Type": "application/json"}
    ) as response:
        turn = StreamedTurn(response.status_code, response.headers.get("content-type", ""))
        if not turn.content_type.startswith("text/event-stream"):
            turn.body = json.loads(response.read() or b"null")
            return turn
        for line in response.iter_lines():
            if not line:
                continue
            assert line.startswith("data: "), line
            event = EVENT_ADAPTER.validate_json(line[len("data: ") :])
            turn.events.append(event)
            if on_event is not None and on_event(event, turn) == DISCONNECT:
                turn.disconnected = True
                break
    if turn.disconnected:
        http.close()  # leaving the half-read response is not enough: drop the connection
    return turn


def create_params(text: str) -> dict[str, Any]:
    return {"input": message_input(text)}


def after_deltas(count: int, action: Callable[[StreamedTurn], str | None]) -> OnEvent:
    """An ``on_event`` that runs ``action`` once, right after the ``count``-th text delta."""
    done = False

    def on_event(event: ThreadStreamEvent, turn: StreamedTurn) -> str | None:
        nonlocal done
        if done or not text_deltas([event]):
            return None
        if len(turn.deltas) == count:
            done = True
            return action(turn)
        return None

    return on_event


def on_thread_created(action: Callable[[StreamedTurn], str | None]) -> OnEvent:
    def on_event(event: ThreadStreamEvent, turn: StreamedTurn) -> str | None:
        if isinstance(event, ThreadCreatedEvent):
            return action(turn)
        return None

    return on_event


@contextmanager
def provider_settings(settings: Any, provider: FakeProvider, **extra: Any) -> Iterator[None]:
    """Answer turns through ``provider``: Chat Completions over loopback, the default agent."""
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "AGENT": "chatkit_backend.reasoning.agents.default_agent",
        "LLM_PROVIDER": "openai_compatible",
        "LLM_BASE_URL": provider.base_url,
        "LLM_MODEL": "slow-model",
        **extra,
    }
    yield


@pytest.fixture
def slow_provider(settings: Any) -> Iterator[FakeProvider]:
    """A loopback provider that streams one chunk every 100-200 ms and reports usage last."""
    with FakeProvider(event_delay=(0.1, 0.2), default_answer=SLOW_ANSWER) as provider:
        with provider_settings(settings, provider):
            yield provider
