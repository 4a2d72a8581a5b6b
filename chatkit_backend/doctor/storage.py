"""Where data goes: the attachment storage (a probe file written, read and deleted) and the
database's migrations."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

from django.core.files.base import ContentFile
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from ..attachments import get_storage, storage_name
from ..conf import conf
from .findings import Finding, Options


def check_storage(options: Options) -> Iterator[Finding]:
    if not conf.ATTACHMENTS:
        yield Finding("skip", "storage", "Attachments are off (CHATKIT_BACKEND['ATTACHMENTS']).")
        return
    # In the folder attachments go to, which is what must be writable; no attachment id
    # looks like this name.
    name = storage_name(f"doctor-probe-{secrets.token_hex(8)}")
    content = b"chatkit_doctor probe\n"
    try:
        alias = conf.ATTACHMENT_STORAGE  # raises for an alias STORAGES does not have
        storage = get_storage()
    except Exception as error:
        yield Finding(
            "fail",
            "storage",
            f"The attachment storage cannot be loaded: {type(error).__name__}: {error}",
            "Point CHATKIT_BACKEND['ATTACHMENT_STORAGE'] at an alias in settings.STORAGES.",
        )
        return
    where = f"STORAGES[{alias!r}]" if alias else "the default storage"
    try:
        saved = storage.save(name, ContentFile(content))
        try:
            with storage.open(saved, "rb") as handle:
                read_back = handle.read()
        finally:
            storage.delete(saved)
        if read_back != content:
            raise OSError("the probe file read back differs from what was written")
        if storage.exists(saved):
            raise OSError("the probe file is still there after deleting it")
    except Exception as error:
        location = getattr(storage, "location", None)
        fix = (
            f"Make {location} writable by the user the server runs as (the doctor ran as "
            "this shell's user)."
            if location
            else f"Check {where}'s settings and credentials (bucket, keys, permissions)."
        )
        yield Finding(
            "fail",
            "storage",
            f"Attachments cannot be stored in {where}: {type(error).__name__}: {error}",
            fix,
        )
        return
    yield Finding(
        "ok",
        "storage",
        f"Wrote, read and deleted a probe file in {where} ({type(storage).__name__}).",
    )


def check_migrations(options: Options) -> Iterator[Finding]:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:
        yield Finding(
            "fail",
            "migrations",
            f"Cannot read the database: {type(error).__name__}: {error}",
            "Check DATABASES (or DATABASE_URL) and that the database server is reachable.",
        )
        return
    pending = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    if pending:
        shown = ", ".join(pending[:8]) + (
            f" and {len(pending) - 8} more" if len(pending) > 8 else ""
        )
        yield Finding(
            "fail",
            "migrations",
            f"{len(pending)} migration(s) not applied: {shown}.",
            "Run `python manage.py migrate`.",
        )
    else:
        yield Finding("ok", "migrations", "All migrations are applied.")
