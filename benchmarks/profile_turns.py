"""Where a turn's time goes: N turns in-process under cProfile against our ASGI application.

    python benchmarks/run.py --profile [--turns 200] [--db sqlite|postgres] [--sort cumulative]
                                       [--top 30] [--words 40]

The example site with the benchmark settings (``benchmarks.bench_settings``: the
deterministic model, rate limits off, DEBUG off) on a fresh database (a temporary SQLite file,
or a new database on ``--pg-url``), one user with a SimpleJWT bearer token. The ASGI
application (``example_project.asgi:application``, the API on the lean path; set
``BENCH_PROFILE_APP=example_project.asgi.django_application`` for the full stack) is called
directly, without an HTTP server: the same turn mix as the throughput test (threads.create,
then four threads.add_user_message on that thread), after ten warm-up turns that are not
profiled.

cProfile only sees the thread it runs in, and the ORM runs in ``sync_to_async`` worker
threads: every work item those threads run is profiled too, and the statistics are merged.
Prints the top ``--top`` functions by ``--sort``, then the own time (tottime) grouped by
package, which says at a glance which layer costs what.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.thread_profiles import ThreadProfiles

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

INPUT = {
    "content": [{"type": "input_text", "text": "Hello from the profiler"}],
    "attachments": [],
    "inference_options": {},
}


async def _call(app: Any, token: str, body: dict[str, Any]) -> tuple[int, bytes]:
    raw = json.dumps(body).encode()
    done = asyncio.Event()
    sent_body = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/chatkit/api",
        "raw_path": b"/chatkit/api",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    done.set()
    return status, b"".join(chunks)


async def _turns(app: Any, token: str, count: int, words: int) -> list[str]:
    errors: list[str] = []
    thread_id = None
    for index in range(count):
        if index % 5 == 0 or thread_id is None:
            body = {"type": "threads.create", "params": {"input": INPUT}}
        else:
            body = {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": INPUT},
            }
        status, payload = await _call(app, token, body)
        deltas = payload.count(b'"assistant_message.content_part.text_delta"')
        if status != 200 or b'"type":"error"' in payload or deltas != words:
            errors.append(f"status {status}, {deltas} deltas: {payload[:200]!r}")
            thread_id = None
            continue
        if payload.startswith(b'data: {"type":"thread.created"'):
            thread_id = json.loads(payload[6 : payload.index(b"\n\n")])["thread"]["id"]
    return errors


def _package(filename: str, function: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        if "epoll" in function or "select" in function:
            return "(idle: event loop waiting)"
        return "C: " + function.removeprefix("<").removesuffix(">")[:40]
    path = filename.replace("\\", "/")
    for marker in ("/site-packages/", "/main/", str(REPO) + "/"):
        if marker in path:
            rest = path.split(marker, 1)[1]
            return rest.split("/", 1)[0].removesuffix(".py")
    if "/lib/python3" in path:
        rest = path.split("/lib/python3", 1)[1].split("/", 2)
        return "stdlib:" + (rest[1].removesuffix(".py") if len(rest) > 1 else "?")
    return path


@contextlib.contextmanager
def database(db: str, pg_url: str, work: Path) -> Iterator[str]:
    """A fresh database's URL: a new one on ``pg_url`` (dropped afterwards), or a SQLite file."""
    from benchmarks.harness.servers import postgres_database

    sqlite = contextlib.nullcontext(f"sqlite:///{work / 'profile.sqlite3'}")
    with postgres_database(pg_url) if db == "postgres" else sqlite as database_url:
        try:
            yield database_url
        finally:
            # Django's connections, closed before the database goes.
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()


def configure(database_url: str, words: int) -> None:
    """This process's environment as the servers get it: no provider, the benchmark model."""
    for key in ("LLM_PROVIDER", "OPENAI_API_KEY", "GEMINI_API_KEY", "LLM_BASE_URL"):
        os.environ.pop(key, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE=os.environ.get("BENCH_SETTINGS", "benchmarks.bench_settings"),
        DATABASE_URL=database_url,
        BENCH_WORDS=str(words),
        BENCH_DELTA_DELAY="0",
        OPENAI_AGENTS_DISABLE_TRACING="1",
    )


@dataclass
class Profiled:
    """``turns`` turns without the profiler, then under it: their times, failures and stats."""

    plain: float
    elapsed: float
    errors: list[str]
    stats: pstats.Stats
    profiles: ThreadProfiles


async def profiled_turns(app: Any, token: str, turns: int, words: int) -> Profiled:
    """Ten warm-up turns, ``turns`` turns unprofiled, then ``turns`` turns under cProfile."""
    profiles = ThreadProfiles()
    profiles.install()
    main_profiler = cProfile.Profile()
    try:
        warm = await _turns(app, token, 10, words)
        if warm:
            raise RuntimeError(f"warm-up turns failed: {warm[:3]}")
        start = time.perf_counter()
        await _turns(app, token, turns, words)
        plain = time.perf_counter() - start
        profiles.enabled = True
        main_profiler.enable()
        start = time.perf_counter()
        try:
            errors = await _turns(app, token, turns, words)
        finally:
            elapsed = time.perf_counter() - start
            main_profiler.disable()
            profiles.enabled = False
    finally:
        profiles.uninstall()
    stats = pstats.Stats(main_profiler)
    for profiler in profiles.profilers:
        stats.add(profiler)
    return Profiled(plain, elapsed, errors, stats, profiles)


def print_report(run: Profiled, *, turns: int, db: str, words: int, sort: str, top: int) -> None:
    print(
        f"{turns} turns ({db}, {words} words each), one at a time, no HTTP server: "
        f"{run.plain / turns * 1000:.2f} ms per turn without the profiler, "
        f"{run.elapsed / turns * 1000:.2f} ms under cProfile; {len(run.errors)} failed; "
        f"{len(run.profiles.profilers)} worker threads profiled and merged."
    )
    for error in run.errors[:5]:
        print("  failed:", error)
    out = io.StringIO()
    run.stats.stream = out  # type: ignore[attr-defined]
    run.stats.sort_stats(sort).print_stats(top)
    print(out.getvalue())

    hops = run.profiles.hops
    print(f"sync_to_async work items (thread hops): {sum(hops.values()) / turns:.1f} per turn")
    for name, count in sorted(hops.items(), key=lambda kv: -kv[1]):
        print(f"  {count / turns:5.2f}  {name}")
    print()
    by_package: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _, function), (_, _, tottime, _, _) in run.stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename, function)] += tottime
        total += tottime
    print(
        "Own time (tottime) by package (Python code) or by function (C code), per turn; "
        "worker threads and the event loop add up, so this is CPU plus waits, not wall:"
    )
    for name, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {name:<32} {seconds / turns * 1000:8.2f} ms  {seconds / total * 100:5.1f} %")


def profile(
    *,
    turns: int = 200,
    db: str = "sqlite",
    pg_url: str = "postgres://postgres@127.0.0.1:5432/postgres",
    sort: str = "cumulative",
    top: int = 30,
    words: int = 40,
) -> int:
    sys.path.insert(0, str(REPO))
    work = Path(tempfile.mkdtemp(prefix="chatkit-profile-"))
    try:
        with database(db, pg_url, work) as database_url:
            configure(database_url, words)
            from benchmarks.site_tool import main as prepare

            token = prepare({"users": 1, "threads": {}})["tokens"][0]
            from django.utils.module_loading import import_string

            # BENCH_PROFILE_APP: another application to profile (the full stack:
            # example_project.asgi.django_application).
            app_path = os.environ.get("BENCH_PROFILE_APP", "example_project.asgi.application")
            run = asyncio.run(profiled_turns(import_string(app_path), token, turns, words))
            print_report(run, turns=turns, db=db, words=words, sort=sort, top=top)
            return 0 if not run.errors else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    from benchmarks.run import main

    sys.exit(main(["--profile", *sys.argv[1:]]))
