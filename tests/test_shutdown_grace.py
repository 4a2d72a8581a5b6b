"""SIGTERM with detached runs, on a real server process (uvicorn, ASGI lifespan on).

The example site runs as a uvicorn process with ``ON_DISCONNECT = "finish"`` and answers
through a slow loopback provider in this process (one chunk every 100-200 ms, 20 words, usage
at the end). The client drops the connection after the first delta; then the worker gets
SIGTERM. Within the grace period the run finishes; past it, the run is cut off and what it
had is stored with the SDK's cancellation note.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.example_site import PYTHON, ExampleSite, Server, site_with_users
from tests.support.fake_provider import FakeProvider
from tests.support.turn_streams import (
    DISCONNECT,
    SLOW_ANSWER,
    after_deltas,
    create_params,
    stream_turn,
)
from tests.test_multiprocess_turns import client as http_client
from tests.test_multiprocess_turns import query

CANCEL_NOTE = "The user cancelled the stream. Stop responding to the prior request."
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with FakeProvider(event_delay=(0.1, 0.2), default_answer=SLOW_ANSWER) as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, provider: FakeProvider) -> Iterator[ExampleSite]:
    with site_with_users(
        tmp_path_factory.mktemp("shutdown"),
        ("alice",),
        PASSWORD,
        DJANGO_SETTINGS_MODULE="tests.live_settings",
        LLM_PROVIDER="openai_compatible",
        LLM_BASE_URL=provider.base_url,
        LLM_MODEL="slow-model",
    ) as site:
        yield site


def worker(site: ExampleSite, name: str, grace: float) -> Server:
    command = [PYTHON, "-m", "uvicorn", "example_project.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", "{port}", "--lifespan", "on"]
    env = {**site.env, "TEST_SHUTDOWN_GRACE": str(grace)}
    server = Server(name, command, env, site.tmp_dir / f"{name}.log")
    site.servers.append(server)
    server.wait_until_ready()
    return server


def leave_then_terminate(server: Server) -> str:
    """Start a turn, drop it after the first delta, SIGTERM the worker, wait for its exit."""
    http = http_client(server, "alice")
    turn = stream_turn(
        http,
        "threads.create",
        on_event=after_deltas(1, lambda _turn: DISCONNECT),
        **create_params("Tell me a long story"),
    )
    assert turn.disconnected and turn.thread_id
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=40)
    return turn.thread_id


def stored(site: ExampleSite, thread_id: str) -> list[tuple[str, Any]]:
    rows = query(
        site,
        "SELECT type, data FROM chatkit_backend_threaditem WHERE thread_id = %s ORDER BY seq",
        thread_id,
    )
    return [(kind, json.loads(data) if isinstance(data, str) else data) for kind, data in rows]


def answer_text(items: list[tuple[str, Any]]) -> list[str]:
    return [
        "".join(part["text"] for part in data["content"])
        for kind, data in items
        if kind == "assistant_message"
    ]


def usage_rows(site: ExampleSite, thread_id: str) -> list[tuple]:
    return query(
        site,
        "SELECT total_tokens, estimated FROM chatkit_backend_turnusage WHERE thread_id = %s",
        thread_id,
    )


def test_sigterm_lets_a_detached_run_finish_within_the_grace_period(site):
    server = worker(site, "patient", grace=20)
    thread_id = leave_then_terminate(server)
    items = stored(site, thread_id)
    assert answer_text(items) == [SLOW_ANSWER], server.log()
    assert "sdk_hidden_context" not in [kind for kind, _ in items]
    [(tokens, estimated)] = usage_rows(site, thread_id)
    assert tokens > 0 and not estimated


def test_sigterm_cuts_off_a_run_the_grace_period_cannot_hold(site):
    server = worker(site, "hasty", grace=0.3)
    thread_id = leave_then_terminate(server)
    items = stored(site, thread_id)
    [text] = answer_text(items)
    assert text and SLOW_ANSWER.startswith(text) and text != SLOW_ANSWER, server.log()
    assert ("sdk_hidden_context", CANCEL_NOTE) in [
        (kind, data.get("content")) for kind, data in items
    ]
    [(tokens, estimated)] = usage_rows(site, thread_id)
    assert tokens > 0 and estimated  # the provider never reported it: an estimate is charged
