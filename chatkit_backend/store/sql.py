"""The statements every turn makes, written as SQL.

The ORM spends 0.2-0.4 ms of CPU building each statement, and 1.8 ms for a thread's release;
these run on every turn, where CPU per turn is what a worker's throughput comes down to. Each
is plain SQL that SQLite and PostgreSQL both take, written once per database and statement
shape. Table and column names come from the models and values are adapted by the models'
fields (``get_db_prep_save``, ``from_db_value``), so they stay in step with the models.

Only writes and reads of rows the caller was already allowed to touch are here: what a
caller may see or change is decided by the access policy's querysets (``ScopedStore``), on
the ORM, first.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.utils import timezone

from .. import models


def _connection(model: type[Model]) -> BaseDatabaseWrapper:
    return connections[router.db_for_write(model)]


def _column(model: type[Model], name: str, connection: BaseDatabaseWrapper) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _table(model: type[Model], connection: BaseDatabaseWrapper) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _prep(model: type[Model], name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def _values(rows: int, columns: int) -> str:
    """Placeholders for ``rows`` rows of ``columns`` values: ``(%s, %s), (%s, %s)``."""
    row = "(" + ", ".join(["%s"] * columns) + ")"
    return ", ".join([row] * rows)


# -- a turn's claim on its thread --------------------------------------------------------------


def claim(thread_id: str, lease: str, until: datetime) -> bool:
    """Claim ``thread_id`` for a turn (``lease`` until ``until``) unless another turn's claim
    still holds; whether it was claimed. The caller has read the thread through the access
    policy in the same transaction."""
    connection = _connection(models.Thread)
    params = [
        lease,
        _prep(models.Thread, "turn_lease_until", until, connection),
        thread_id,
        _prep(models.Thread, "turn_lease_until", timezone.now(), connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(connection.alias), params)
        return cursor.rowcount > 0


@functools.cache
def _claim_sql(alias: str) -> str:
    connection = connections[alias]

    def column(name: str) -> str:
        return _column(models.Thread, name, connection)

    until = column("turn_lease_until")
    return (
        f"UPDATE {_table(models.Thread, connection)} "
        f"SET {column('turn_lease')} = %s, {until} = %s "
        f"WHERE {column('id')} = %s AND ({until} IS NULL OR {until} < %s)"
    )


def release(
    thread_id: str, lease: str, *, activity: datetime | None, spent: dict[str, Any] | None
) -> None:
    """One UPDATE: release the turn's claim (if ``lease`` still holds it), and bring the
    thread's denormalised columns up to date (items and feedback, recounted; the same values
    as ``counters.thread_counters``). ``activity``: the thread's new last activity (None: as
    it was). ``spent``: tokens to add, and the provider and model that spent them (as
    ``counters.usage_values``)."""
    connection = _connection(models.Thread)
    params: list[Any] = [lease, lease, *[thread_id] * 4]
    if activity is not None:
        params.append(_prep(models.Thread, "updated_at", activity, connection))
    if spent is not None:
        params += [spent["tokens"], spent["provider"], spent["model"]]
    params.append(thread_id)
    with connection.cursor() as cursor:
        cursor.execute(
            _release_sql(connection.alias, activity is not None, spent is not None), params
        )


@functools.cache
def _release_sql(alias: str, activity: bool, spent: bool) -> str:
    """:func:`release`'s statement. Every SET expression reads the row as it was."""
    connection = connections[alias]

    def thread(name: str) -> str:
        return _column(models.Thread, name, connection)

    def item(name: str) -> str:
        return _column(models.ThreadItem, name, connection)

    of_thread = f"FROM {_table(models.ThreadItem, connection)} WHERE {item('thread')} = %s"
    rated = f"{of_thread} AND {item('feedback')}"
    holds = f"{thread('turn_lease')} = %s"
    columns = [
        f"{thread('turn_lease')} = CASE WHEN {holds} THEN '' ELSE {thread('turn_lease')} END",
        f"{thread('turn_lease_until')} = CASE WHEN {holds} THEN NULL "
        f"ELSE {thread('turn_lease_until')} END",
        f"{thread('item_count')} = (SELECT COUNT(*) {of_thread})",
        f"{thread('has_positive_feedback')} = EXISTS (SELECT 1 {rated} = 'positive')",
        f"{thread('has_negative_feedback')} = EXISTS (SELECT 1 {rated} = 'negative')",
        f"{thread('latest_feedback')} = (SELECT {item('feedback')} {rated} IS NOT NULL "
        f"ORDER BY {item('feedback_at')} DESC, {item('seq')} DESC LIMIT 1)",
    ]
    if activity:
        columns.append(f"{thread('updated_at')} = %s")
    if spent:
        columns.append(f"{thread('tokens_spent')} = {thread('tokens_spent')} + %s")
        columns += [f"{thread('provider')} = %s", f"{thread('model')} = %s"]
    table = _table(models.Thread, connection)
    return f"UPDATE {table} SET {', '.join(columns)} WHERE {thread('id')} = %s"


# -- a turn's usage --------------------------------------------------------------------------


def insert_usage(rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``TurnUsage`` rows (field values by attribute name, ``thread_id`` and
    ``owner_id`` included); fields a row leaves out get their defaults, ``created_at`` now.
    Raises ``IntegrityError`` if a row names a thread that is gone."""
    connection = _connection(models.TurnUsage)
    fields = _usage_fields()
    for row in rows:
        if unknown := set(row).difference(field.attname for field in fields):
            # As the model's constructor would: a misspelt field is an error, not a default.
            raise TypeError(f"TurnUsage has no field(s) {', '.join(sorted(unknown))}")
    now = timezone.now()
    params = [
        field.get_db_prep_save(
            row.get(field.attname, now if field.name == "created_at" else field.get_default()),
            connection,
        )
        for row in rows
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_usage_sql(connection.alias, len(rows)), params)


@functools.cache
def _usage_fields() -> tuple[Any, ...]:
    # Every stored column but the primary key, which the database assigns.
    return tuple(field for field in models.TurnUsage._meta.concrete_fields if not field.primary_key)


@functools.cache
def _insert_usage_sql(alias: str, count: int) -> str:
    connection = connections[alias]
    fields = _usage_fields()
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    values = _values(count, len(fields))
    return f"INSERT INTO {_table(models.TurnUsage, connection)} ({columns}) VALUES {values}"


# -- a thread's items ----------------------------------------------------------------------


def newest_items(thread_id: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """The ``limit`` newest items of ``thread_id``, newest first: (item id, stored JSON)."""
    connection = _connection(models.ThreadItem)
    data = models.ThreadItem._meta.get_field("data")
    with connection.cursor() as cursor:
        cursor.execute(_newest_sql(connection.alias), [thread_id, limit])
        return [
            (item_id, data.from_db_value(value, None, connection))
            for item_id, value in cursor.fetchall()
        ]


@functools.cache
def _newest_sql(alias: str) -> str:
    connection = connections[alias]

    def column(name: str) -> str:
        return _column(models.ThreadItem, name, connection)

    return (
        f"SELECT {column('item_id')}, {column('data')} "
        f"FROM {_table(models.ThreadItem, connection)} WHERE {column('thread')} = %s "
        f"ORDER BY {column('created_at')} DESC, {column('seq')} DESC LIMIT %s"
    )


ITEM_FIELDS = ("thread", "item_id", "type", "created_at", "data", "text")


def upsert_items(rows: Sequence[dict[str, Any]]) -> None:
    """Insert items (``ITEM_FIELDS`` values each), or replace the type, JSON and text of the
    item with the same id in the thread: its place in the thread (created_at, seq) and its
    feedback stay. Raises ``IntegrityError`` if the thread is gone."""
    connection = _connection(models.ThreadItem)
    params = [
        _prep(models.ThreadItem, name, row[name], connection)
        for row in rows
        for name in ITEM_FIELDS
    ]
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(connection.alias, len(rows)), params)


@functools.cache
def _upsert_sql(alias: str, count: int) -> str:
    connection = connections[alias]

    def column(name: str) -> str:
        return _column(models.ThreadItem, name, connection)

    values = _values(count, len(ITEM_FIELDS))
    replaced = ", ".join(
        f"{column(name)} = EXCLUDED.{column(name)}" for name in ("type", "data", "text")
    )
    return (
        f"INSERT INTO {_table(models.ThreadItem, connection)} "
        f"({', '.join(column(name) for name in ITEM_FIELDS)}) VALUES {values} "
        f"ON CONFLICT ({column('thread')}, {column('item_id')}) DO UPDATE SET {replaced}"
    )
