"""The admin at scale: 100,000 threads and 1,000,000 items, on SQLite and PostgreSQL.

    python benchmarks/admin_scale.py                       # both databases, full size
    python benchmarks/admin_scale.py --dbs sqlite --threads 2000 --items 20000   # a smoke run

Each database runs in a subprocess of its own (Django is set up once per process) on a fresh
database: a SQLite file in a temporary directory, or a new PostgreSQL database on
``--pg-url`` (dropped at the end). The rows are written by bulk SQL (PostgreSQL ``COPY``,
SQLite ``executemany`` in one transaction), with the denormalised admin columns filled as
the store would have left them; the GIN index for message search is built after the rows.

Then the admin pages are requested in-process through Django's test client as a superuser,
``--repeat`` times each (the first, cold, reported apart): the time is the server's whole
handling of the request (middleware, queries, template), the queries are counted with
``CaptureQueriesContext``. Not a timed test: figures depend on the machine; see README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RARE = "zyzzogeton"  # said in a handful of messages: what a search for a rare word finds
BIG_THREAD = "thr_big000000000000000000000"
MODELS = [("openai", "gpt-4.1-mini"), ("gemini", "gemini-2.5-flash"), ("openai", "gpt-4.1")]


def vocabulary(size: int = 3000) -> list[str]:
    rng = random.Random(7)
    letters = "abcdefghiklmnoprstuvw"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(size)]


def seed(threads: int, items: int, users: int = 1000) -> dict[str, Any]:
    """Write the rows; returns what the measurements need (ids, a common word)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    rng = random.Random(13)
    words = vocabulary()
    User = get_user_model()
    User.objects.bulk_create(User(username=f"user{n:05d}") for n in range(users))
    user_ids = list(User.objects.values_list("pk", flat=True))
    admin = User.objects.create_superuser("bench-admin", password="x")
    now = datetime.now(UTC)
    big_items = min(2000, items // 10)
    per_thread, extra = divmod(items - big_items, max(threads - 1, 1))
    thread_rows: list[tuple] = []
    item_rows: list[tuple] = []
    started = time.perf_counter()
    rare_left = 5
    owner_id = None
    totals = {"threads": 0, "items": 0}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The search index is built once the rows are in (as a migration would on a table
            # that grew before it): far faster than maintaining it row by row.
            cursor.execute("DROP INDEX IF EXISTS chatkit_item_text_search")
    else:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous = OFF")  # a benchmark's scratch file
    for n in range(threads):
        thread_id = BIG_THREAD if n == 0 else f"thr_{n:024x}"
        count = big_items if n == 0 else per_thread + (1 if n <= extra else 0)
        created = now - timedelta(days=rng.uniform(0, 90))
        provider, model = rng.choice(MODELS)
        state = rng.random()
        status = (
            {"type": "locked", "reason": "Review"}
            if state < 0.02
            else {"type": "closed", "reason": "Done"}
            if state < 0.03
            else {"type": "active"}
        )
        feedback = rng.random()
        negative, positive = feedback < 0.03, 0.03 <= feedback < 0.08
        last = created
        for k in range(count):
            last = created + timedelta(seconds=30 * k)
            kind = "user_message" if k % 2 == 0 else "assistant_message"
            text = " ".join(rng.choice(words) for _ in range(rng.randint(6, 16)))
            if rare_left and n % 997 == 5 and k == 1:
                text += f" {RARE}"
                rare_left -= 1
            rated = kind == "assistant_message" and k == 1 and (negative or positive)
            item_id = f"msg_{n:016x}{k:06x}"
            part = "input_text" if kind == "user_message" else "output_text"
            data = {
                "type": kind,
                "id": item_id,
                "thread_id": thread_id,
                "created_at": last.isoformat(),
                "content": [{"type": part, "text": text, "annotations": []}],
            }
            if kind == "user_message":
                data.update(attachments=[], inference_options={})
            rating = ("negative" if negative else "positive") if rated else None
            item_rows.append(
                (
                    thread_id,
                    item_id,
                    kind,
                    last,
                    json.dumps(data),
                    rating,
                    last if rated else None,
                    text,
                )
            )
        thread_rows.append(
            (
                thread_id,
                rng.choice(user_ids),
                "",
                f"Question {n}: " + " ".join(rng.sample(words, 4)),
                json.dumps(status),
                "{}",
                created,
                last,
                "",
                count,
                rng.randint(200, 20000),
                ("negative" if negative else "positive") if negative or positive else None,
                positive,
                negative,
                provider,
                model,
            )
        )
        owner_id = owner_id or (thread_rows[-1][1] if n == 1 else None)
        if len(thread_rows) >= 2000 or n == threads - 1:
            # A chunk at a time: a million items never sit in memory at once.
            with transaction.atomic():
                write_rows(connection, thread_rows, item_rows)
            totals["threads"] += len(thread_rows)
            totals["items"] += len(item_rows)
            thread_rows, item_rows = [], []
    written = time.perf_counter() - started
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(SEARCH_INDEX)
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    indexed = time.perf_counter() - started
    return {
        "admin_id": admin.pk,
        "owner_id": owner_id,
        "common_word": words[0],
        "model": MODELS[0][1],
        **totals,
        "seconds": {"write": round(written, 1), "index": round(indexed, 1)},
    }


SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS chatkit_item_text_search ON chatkit_backend_threaditem "
    "USING gin (to_tsvector('simple'::regconfig, text))"
)
THREAD_COLUMNS = (
    "id, owner_id, session_key, title, status, metadata, created_at, updated_at, turn_lease, "
    "item_count, tokens_spent, latest_feedback, has_positive_feedback, has_negative_feedback, "
    "provider, model"
)
ITEM_COLUMNS = "thread_id, item_id, type, created_at, data, feedback, feedback_at, text"


def write_rows(connection: Any, thread_rows: list[tuple], item_rows: list[tuple]) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY chatkit_backend_thread ({THREAD_COLUMNS}) FROM STDIN") as copy:
                for row in thread_rows:
                    copy.write_row(row)
            with raw.copy(f"COPY chatkit_backend_threaditem ({ITEM_COLUMNS}) FROM STDIN") as copy:
                for row in item_rows:
                    copy.write_row(row)
        return

    def sqlite_time(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        return value

    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * 16)
        cursor.executemany(
            f"INSERT INTO chatkit_backend_thread ({THREAD_COLUMNS}) VALUES ({marks})",
            [tuple(sqlite_time(v) for v in row) for row in thread_rows],
        )
        marks = ", ".join(["%s"] * 8)
        for start in range(0, len(item_rows), 50_000):
            cursor.executemany(
                f"INSERT INTO chatkit_backend_threaditem ({ITEM_COLUMNS}) VALUES ({marks})",
                [tuple(sqlite_time(v) for v in row) for row in item_rows[start : start + 50_000]],
            )


def measure(info: dict[str, Any], repeat: int) -> list[dict[str, Any]]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    client.force_login(get_user_model().objects.get(pk=info["admin_id"]))
    base = "/admin/chatkit_backend/thread/"
    pages = [
        ("thread list, first page", base, {}),
        ("filtered: negative feedback", base, {"feedback": "negative"}),
        ("filtered: locked", base, {"status": "locked"}),
        ("filtered: model", base, {"model": info["model"]}),
        ("filtered: owner", base, {"owner": info["owner_id"]}),
        ("thread page, 2,000 items", f"{base}{BIG_THREAD.replace('_', '_5F')}/change/", {}),
        (f"search: rare word ({RARE})", base, {"q": RARE}),
        ("search: common word", base, {"q": info["common_word"]}),
        ("feedback review", "/admin/chatkit_backend/rateditem/", {}),
        ("thread items list", "/admin/chatkit_backend/threaditem/", {}),
        ("thread items, type filter", "/admin/chatkit_backend/threaditem/", {"type": "widget"}),
        ("usage dashboard", "/admin/chatkit_backend/usagedashboard/", {}),
    ]
    results = []
    for name, url, params in pages:
        times, queries, status, sql = [], 0, 0, []
        for _ in range(repeat + 1):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url, params)
                times.append((time.perf_counter() - started) * 1000)
            status = response.status_code
            queries = len(captured.captured_queries)
            sql.append(sorted((float(q["time"]) * 1000, q["sql"]) for q in captured))
        warm = times[1:] or times
        last = sql[-1]
        slowest = last[-1] if last else (0.0, "")
        results.append(
            {
                "page": name,
                "status": status,
                "cold_ms": round(times[0], 1),
                "median_ms": round(statistics.median(warm), 1),
                "max_ms": round(max(warm), 1),
                "queries": queries,
                "sql_ms": round(sum(t for t, _ in last), 1),
                "slowest_sql_ms": round(slowest[0], 1),
                "slowest_sql": slowest[1][:300],
            }
        )
        print(f"  {name:34} {results[-1]}", flush=True)
    return results


def run_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    """Inside the subprocess: set Django up on the fresh database, seed, measure."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.bench_settings")
    os.environ.setdefault("SECRET_KEY", "admin-scale-benchmark")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    info = seed(args.threads, args.items)
    print(f"  seeded {info['threads']} threads, {info['items']} items: {info['seconds']}")
    return {"db": db, "seed": info, "pages": measure(info, args.repeat)}


def render(results: list[dict[str, Any]]) -> str:
    lines = []
    for result in results:
        seed_info = result["seed"]
        lines += [
            f"**{result['db']}**: {seed_info['threads']:,} threads, {seed_info['items']:,} items "
            f"(written in {seed_info['seconds']['write']} s, indexed in "
            f"{seed_info['seconds']['index']} s)",
            "",
            "| page | median ms | max ms | cold ms | queries | SQL ms (last) | status |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {p['page']} | {p['median_ms']} | {p['max_ms']} | {p['cold_ms']} | {p['queries']} "
            f"| {p['sql_ms']} | {p['status']} |"
            for p in result["pages"]
        ]
        lines.append("")
    return "\n".join(lines)


def pg_database(base: str) -> tuple[str, Any]:
    import psycopg

    name = f"chatkit_admin_scale_{os.getpid()}"
    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return base.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbs", default="sqlite,postgres")
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--output", default=str(REPO / "benchmarks/results/admin_scale.json"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # inside the subprocess: the db
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        Path(args.result).write_text(json.dumps(run_one(args.one, args)))
        return
    results = []
    for db in args.dbs.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            drop = None
            if db == "postgres":
                url, drop = pg_database(args.pg_url)
            else:
                url = f"sqlite:///{tmp}/admin_scale.sqlite3"
            print(f"{db}: seeding and measuring", flush=True)
            result_file = Path(tmp) / "result.json"
            command = [
                sys.executable,
                __file__,
                "--one",
                db,
                "--result",
                str(result_file),
                "--threads",
                str(args.threads),
                "--items",
                str(args.items),
                "--repeat",
                str(args.repeat),
            ]
            env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(REPO)}
            env.pop("DJANGO_SETTINGS_MODULE", None)
            try:
                subprocess.run(command, env=env, cwd=REPO, check=True)
                results.append(json.loads(result_file.read_text()))
            finally:
                if drop is not None:
                    drop()
    Path(args.output).write_text(json.dumps(results, indent=1))
    table = render(results)
    Path(args.output).with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
