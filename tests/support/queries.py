"""SQL statements counted in every thread of the process.

Django's ``CaptureQueriesContext`` sees one connection, the calling thread's; the store's
database work runs on its own pool of threads (``chatkit_backend.connections``), each with a
connection of its own, so the suite counts at the cursor, whatever thread runs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.utils import CursorWrapper

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def captured_statements(monkeypatch) -> Iterator[list[str]]:
    """Every statement executed meanwhile, in order (transaction control included)."""
    statements: list[str] = []
    lock = threading.Lock()
    execute, executemany = CursorWrapper._execute, CursorWrapper._executemany

    def counting_execute(self, sql, params, *ignored):
        with lock:
            statements.append(sql)
        return execute(self, sql, params, *ignored)

    def counting_executemany(self, sql, param_list, *ignored):
        with lock:
            statements.append(sql)
        return executemany(self, sql, param_list, *ignored)

    monkeypatch.setattr(CursorWrapper, "_execute", counting_execute)
    monkeypatch.setattr(CursorWrapper, "_executemany", counting_executemany)
    try:
        yield statements
    finally:
        monkeypatch.setattr(CursorWrapper, "_execute", execute)
        monkeypatch.setattr(CursorWrapper, "_executemany", executemany)


def queries_only(statements: list[str]) -> list[str]:
    """``statements`` without transaction control (BEGIN/COMMIT, savepoints): the queries."""
    return [sql for sql in statements if not sql.lstrip().upper().startswith(TRANSACTION_CONTROL)]
