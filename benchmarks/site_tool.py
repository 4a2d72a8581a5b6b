"""Prepare our site's database for the benchmark (run in a subprocess by ``run.py``).

``python -m benchmarks.site_tool PLAN_JSON`` with ``DJANGO_SETTINGS_MODULE`` and
``DATABASE_URL`` set: migrates, creates ``users`` users with a SimpleJWT access token each,
and prefills threads owned by the first user, ``{"<items>": <threads>}``: rows of
``chatkit_backend.models.ThreadItem`` written with ``bulk_create``, item JSON from chatkit's
pydantic types (``benchmarks.items``). Prints one JSON line: tokens, thread ids per size and,
per thread, the id of its middle item (a cursor deep inside it).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from typing import Any


def main(plan: dict) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()
    users, tokens = make_users(int(plan.get("users", 1)))
    threads: dict[str, list[str]] = {}
    middle: dict[str, str] = {}
    for size_text, count in plan.get("threads", {}).items():
        threads[size_text] = []
        for _ in range(int(count)):
            thread_id, mid = prefill_thread(users[0], int(size_text))
            threads[size_text].append(thread_id)
            if mid:
                middle[thread_id] = mid
    return {
        "tokens": tokens,
        "threads": threads,
        "middle": middle,
        "seconds": {
            "migrate": round(migrated - started, 2),
            "prefill": round(time.perf_counter() - migrated, 2),
        },
    }


def make_users(count: int) -> tuple[list[Any], list[str]]:
    """``count`` users (bench0, bench1, ...) and a SimpleJWT access token for each."""
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    User = get_user_model()
    users = [User.objects.get_or_create(username=f"bench{index}")[0] for index in range(count)]
    tokens = []
    for user in users:
        token = AccessToken.for_user(user)
        token.set_exp(lifetime=timedelta(hours=6))
        tokens.append(str(token))
    return users, tokens


def prefill_thread(owner: Any, size: int) -> tuple[str, str | None]:
    """A thread of ``owner`` with ``size`` items; its id and its middle item's id."""
    from django.db import transaction
    from django.utils import timezone

    from chatkit_backend import models
    from chatkit_backend.ids import generate_id

    from .items import prefill_json

    tz = timezone.get_default_timezone()
    thread_id = generate_id("thread")
    rows = []
    mid = None
    for index, (item_id, type_, created_at, data) in enumerate(prefill_json(thread_id, size)):
        if index == size // 2:
            mid = item_id
        rows.append(
            models.ThreadItem(
                thread_id=thread_id,
                item_id=item_id,
                type=type_,
                created_at=timezone.make_aware(created_at, tz),
                data=data,
            )
        )
    first = rows[0].created_at if rows else timezone.now()
    with transaction.atomic():
        models.Thread.objects.create(
            id=thread_id,
            title=f"prefilled {size}",
            status={"type": "active"},
            metadata={},
            created_at=first,
            updated_at=timezone.now(),
            owner=owner,
            session_key="",
        )
        models.ThreadItem.objects.bulk_create(rows, batch_size=2000)
    return thread_id, mid


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
