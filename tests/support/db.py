"""Rows written straight to the database, and what is stored, to compare before and after."""

from __future__ import annotations

from datetime import datetime, timedelta

from chatkit.types import InferenceOptions, ThreadItem, UserMessageItem, UserMessageTextContent
from django.utils import timezone

from chatkit_backend import models
from chatkit_backend.ids import generate_id


def snapshot() -> tuple[list, list, list]:
    """Every thread, item and attachment row as stored, for byte-identical comparisons: a
    refused request must leave it as it was."""
    return (
        list(models.Thread.objects.order_by("id").values()),
        list(models.ThreadItem.objects.order_by("seq").values()),
        list(models.Attachment.objects.order_by("id").values()),
    )


def make_thread(user, *items: ThreadItem, status: dict | None = None) -> str:
    """A thread of ``user`` holding ``items``, written straight to the database."""
    thread_id = generate_id("thread")
    now = timezone.now()
    models.Thread.objects.create(
        id=thread_id,
        owner=user,
        title="Existing",
        status=status or {"type": "active"},
        created_at=now,
        updated_at=now,
    )
    for offset, item in enumerate(items):
        item.thread_id = thread_id
        models.ThreadItem.objects.create(
            thread_id=thread_id,
            item_id=item.id,
            type=item.type,
            created_at=now + timedelta(milliseconds=offset),
            data=item.model_dump(mode="json"),
        )
    return thread_id


def user_message(text: str) -> UserMessageItem:
    """A user message item, for ``make_thread``."""
    return UserMessageItem(
        id=generate_id("message"),
        thread_id="pending",
        created_at=datetime.now(),
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
    )
