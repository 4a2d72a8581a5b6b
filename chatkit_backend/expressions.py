"""SQL expressions the models' indexes are built on (imported by migrations: keep them stable)."""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, F, Func


class StatusType(Func):
    """A thread's status type as text (``active``, ``locked``, ``closed``; NULL when empty).

    Written with a literal JSON path, not a query parameter: SQLite uses an expression index
    only for the very expression it was built on, and Django's own key transforms pass the
    path as a parameter there, so the index ``chatkit_thread_state`` would never be used.
    """

    output_field = CharField()
    template = "JSON_EXTRACT(%(expressions)s, '$.type')"  # SQLite

    def __init__(self, **extra: Any) -> None:
        super().__init__(F("status"), **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s ->> 'type')")

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "JSON_UNQUOTE(JSON_EXTRACT(%(expressions)s, '$.type'))"
        return self.as_sql(compiler, connection, template=template)
