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


def main(plan: dict) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from chatkit_backend import models
    from chatkit_backend.ids import generate_id

    from .items import prefill_json

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()

    User = get_user_model()
    users = []
    for index in range(int(plan.get("users", 1))):
        user, _ = User.objects.get_or_create(username=f"bench{index}")
        users.append(user)
    tokens = []
    for user in users:
        token = AccessToken.for_user(user)
        token.set_exp(lifetime=timedelta(hours=6))
        tokens.append(str(token))

    threads: dict[str, list[str]] = {}
    middle: dict[str, str] = {}
    tz = timezone.get_default_timezone()
    for size_text, count in plan.get("threads", {}).items():
        size = int(size_text)
        threads[size_text] = []
        for _ in range(int(count)):
            thread_id = generate_id("thread")
            rows = []
            mid = None
            for index, (item_id, type_, created_at, data) in enumerate(
                prefill_json(thread_id, size)
            ):
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
                    owner=users[0],
                    session_key="",
                )
                models.ThreadItem.objects.bulk_create(rows, batch_size=2000)
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


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
