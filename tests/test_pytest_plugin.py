"""The pytest plugin as a site's test suite uses it: run in a pytest of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    "postgres" not in os.environ.get("DATABASE_URL", ""),
    reason="a PostgreSQL database with sessions on it cannot be dropped; SQLite's file can",
)

SETTINGS = """
from tests.settings import *  # noqa: F403
DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405  (a site's choice)
DATABASES["default"]["TEST"] = {{"NAME": "{name}"}}  # noqa: F405
"""

TESTS = """
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from chatkit_backend.connections import database_hop


@pytest.mark.django_db(transaction=True)
async def test_the_store_s_threads_and_asgiref_s_query_the_database():
    assert await database_hop(User.objects.count)() == 0
    assert await sync_to_async(User.objects.count)() == 0
"""


def test_the_test_database_is_dropped_when_test_settings_keep_connections(tmp_path):
    name = f"test_chatkit_plugin_{os.getpid()}"
    (tmp_path / "plugin_settings.py").write_text(SETTINGS.format(name=name))
    (tmp_path / "test_site.py").write_text(TESTS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            "-p",
            "chatkit_backend.testing.pytest_plugin",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "--ds=plugin_settings",
            "-W",
            "error::pytest.PytestWarning",
            str(tmp_path / "test_site.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr

    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        left = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        dropped = left.fetchone() is None
        if not dropped:  # the failure is reported; the database does not stay behind
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    assert result.returncode == 0, output
    assert "1 passed" in output and "accessed by other users" not in output, output
    assert dropped  # as pytest-django drops it at the end of the session
