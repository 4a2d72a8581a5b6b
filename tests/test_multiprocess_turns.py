"""Turn claims, deletes and budgets across worker processes that share one database.

The example site runs as separate uvicorn processes (tests.multiprocess_settings: leases of
1.5 s, a budget of 600 tokens a day with 200 reserved per turn) on the run's database
engine, and answers through a slow loopback provider in this process, as real providers
answer: one chunk every 100-200 ms, usage at the end.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dj_database_url
import httpx
import pytest

from chatkit_backend.testing import message_input
from tests.support.example_site import ExampleSite, Server, site_with_users
from tests.support.fake_provider import FakeProvider
from tests.support.turn_streams import SLOW_ANSWER, after_deltas, create_params, stream_turn

USERS = ("alice", "bob", "carol", "dave")
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with FakeProvider(event_delay=(0.1, 0.2), default_answer=SLOW_ANSWER) as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, provider: FakeProvider) -> Iterator[ExampleSite]:
    with site_with_users(
        tmp_path_factory.mktemp("multiprocess"),
        USERS,
        PASSWORD,
        DJANGO_SETTINGS_MODULE="tests.multiprocess_settings",
        LLM_PROVIDER="openai_compatible",
        LLM_BASE_URL=provider.base_url,
        LLM_MODEL="slow-model",
    ) as site:
        yield site


@pytest.fixture(scope="module")
def workers(site: ExampleSite) -> tuple[Server, Server]:
    return site.start("uvicorn", "worker-a"), site.start("uvicorn", "worker-b")


def client(server: Server, username: str) -> httpx.Client:
    return server.bearer_client(username, PASSWORD)


def query(site: ExampleSite, sql: str, *params: Any) -> list[tuple]:
    """Read the site's database directly (``%s`` placeholders)."""
    url: str = site.database_url  # type: ignore[attr-defined]
    if url.startswith("sqlite"):
        with sqlite3.connect(Path(dj_database_url.parse(url)["NAME"])) as connection:
            return connection.execute(sql.replace("%s", "?"), params).fetchall()
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(sql, params).fetchall()


def usage_of(site: ExampleSite, username: str) -> list[tuple[str | None, int, bool]]:
    return [
        (thread_id, total, bool(estimated))
        for thread_id, total, estimated in query(
            site,
            "SELECT u.thread_id, u.total_tokens, u.estimated FROM chatkit_backend_turnusage u "
            "JOIN auth_user a ON a.id = u.owner_id WHERE a.username = %s ORDER BY u.id",
            username,
        )
    ]


def first_turn(http: httpx.Client, provider: FakeProvider) -> str:
    provider.script("Hello.")  # a short first answer
    turn = stream_turn(http, "threads.create", **create_params("Hi"))
    assert turn.status == 200 and turn.text == "Hello.", turn
    return turn.thread_id


def send(http: httpx.Client, thread_id: str, text: str):
    return stream_turn(
        http, "threads.add_user_message", thread_id=thread_id, input=message_input(text)
    )


def wait_for_requests(provider: FakeProvider, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(provider.model_requests()) < count:
        assert time.monotonic() < deadline, "the turn never reached the model"
        time.sleep(0.02)


def test_a_turn_on_one_worker_holds_its_thread_on_the_other(workers, provider):
    a, b = workers
    on_a, on_b = client(a, "alice"), client(b, "alice")
    thread_id = first_turn(on_b, provider)
    seen = len(provider.model_requests())

    provider.hold()
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            running = pool.submit(send, on_a, thread_id, "Take your time")
            wait_for_requests(provider, seen + 1)
            refused = send(on_b, thread_id, "Me too")
            assert refused.status == 409 and refused.error_code == "turn_in_progress"
            time.sleep(2)  # longer than the lease: worker A renews it meanwhile
            refused = send(on_b, thread_id, "Now?")
            assert refused.status == 409
        finally:
            provider.release()
        assert running.result(timeout=30).text == SLOW_ANSWER

    after = send(on_b, thread_id, "Next")
    assert after.status == 200 and after.text == SLOW_ANSWER


def test_deleting_a_thread_on_one_worker_stops_its_turn_on_the_other(site, workers, provider):
    a, b = workers
    on_a, on_b = client(a, "bob"), client(b, "bob")

    def delete_on_b(turn) -> None:
        body = {"type": "threads.delete", "params": {"thread_id": turn.thread_id}}
        on_b.post("/chatkit/api", json=body).raise_for_status()

    long_answer = " ".join(f"word{n}" for n in range(80))  # some 12 s of streaming
    provider.script(long_answer)
    turn = stream_turn(
        on_a, "threads.create", after_deltas(2, delete_on_b), **create_params("Count slowly")
    )
    # Worker A learns of the delete when it next renews its claim (every 0.5 s) and stops:
    # the stream ends cleanly, long before the answer's end.
    assert turn.status == 200 and turn.errors == []
    assert len(turn.deltas) < 80
    record = provider.streams[-1]
    assert record.ended.wait(5) and not record.finished

    [(thread_id, total, estimated)] = usage_of(site, "bob")
    assert thread_id is None and estimated and total > 0


def test_a_claim_held_by_a_killed_worker_lapses(site, workers, provider):
    _, b = workers
    doomed = site.start("uvicorn", "worker-killed")
    on_doomed, on_b = client(doomed, "carol"), client(b, "carol")
    thread_id = first_turn(on_b, provider)
    seen = len(provider.model_requests())

    provider.hold()
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        running = pool.submit(send, on_doomed, thread_id, "Hello?")
        wait_for_requests(provider, seen + 1)
        refused = send(on_b, thread_id, "Anyone there?")
        assert refused.status == 409 and refused.error_code == "turn_in_progress"
        doomed.process.kill()  # SIGKILL: the turn never ends, its claim is never released
        doomed.process.wait(10)
        with pytest.raises(httpx.HTTPError):  # the connection died with the worker
            running.result(timeout=10)
    finally:
        provider.release()
        pool.shutdown(wait=False)

    # Nobody renews the claim any more: it lapses on its own (after at most 1.5 s).
    deadline = time.monotonic() + 10
    while (turn := send(on_b, thread_id, "Anyone there?")).status == 409:
        assert time.monotonic() < deadline, "the claim never lapsed"
        time.sleep(0.2)
    assert turn.status == 200 and turn.text == SLOW_ANSWER


def test_the_budget_holds_across_workers(site, workers, provider):
    a, b = workers
    clients = [client(a, "dave"), client(b, "dave")]
    turns = 12

    def one_turn(index: int):
        return stream_turn(
            clients[index % 2], "threads.create", **create_params(f"Question {index}")
        )

    with ThreadPoolExecutor(max_workers=turns) as pool:
        results = list(pool.map(one_turn, range(turns)))

    answered = [result for result in results if result.text]
    refused = [result for result in results if not result.text]
    assert answered and refused
    assert all("allowance" in result.errors[0].message for result in refused)
    usage = usage_of(site, "dave")
    assert len(usage) == len(answered)
    # Under the budget (600) plus one reservation (200), and no reservation left open.
    total = sum(tokens for _, tokens, _ in usage)
    assert total < 600 + 200
    [(spent, reserved)] = query(
        site,
        "SELECT d.spent, d.reserved FROM chatkit_backend_dailyusage d "
        "JOIN auth_user a ON a.id = d.owner_id WHERE a.username = %s",
        "dave",
    )
    assert (spent, reserved) == (total, 0)
