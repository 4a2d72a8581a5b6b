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
DATABASES["default"]["{key}"] = {value!r}  # noqa: F405
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

# pytest-django's recipe for tests against a database that already exists.
EXISTING_DATABASE = """
import pytest
from django.db import connection

from chatkit_backend.connections import database_hop


@pytest.fixture(scope="session")
def django_db_setup():
    pass


@pytest.mark.django_db
async def test_the_store_reads_the_existing_database():
    def one():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0]

    assert await database_hop(one)() == 1
"""


def run_site_suite(tmp_path: Path, settings: str, tests: str, conftest: str = "") -> str:
    """Run ``tests`` under ``settings`` in a pytest of its own, as a site's suite; its output."""
    (tmp_path / "plugin_settings.py").write_text(settings)
    (tmp_path / "test_site.py").write_text(tests)
    (tmp_path / "conftest.py").write_text(conftest)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("-c", os.devnull, "--rootdir", str(tmp_path)),
            *("-p", "chatkit_backend.testing.pytest_plugin", "--ds=plugin_settings"),
            *("-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function"),
            *("-W", "error::pytest.PytestWarning", str(tmp_path / "test_site.py")),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def admin_connection():
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def test_the_test_database_is_dropped_when_test_settings_keep_connections(tmp_path):
    name = f"test_chatkit_plugin_{os.getpid()}"
    settings = SETTINGS.format(key="TEST", value={"NAME": name})
    try:
        output = run_site_suite(tmp_path, settings, TESTS)
    finally:
        with admin_connection() as connection:
            left = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            dropped = left.fetchone() is None
            if not dropped:  # the failure is reported; the database does not stay behind
                connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    assert "1 passed" in output and "accessed by other users" not in output, output
    assert dropped  # as pytest-django drops it at the end of the session


def test_a_suite_on_an_existing_database_leaves_other_sessions_alone(tmp_path):
    # A site that overrides django_db_setup to use a database others use: the plugin does not
    # end their sessions when the suite ends (it only does so for pytest-django's test
    # database, which is about to be dropped).
    name = f"chatkit_plugin_shared_{os.getpid()}"
    with admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        import psycopg

        url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
        with psycopg.connect(url, autocommit=True) as someone_else:
            output = run_site_suite(
                tmp_path, SETTINGS.format(key="NAME", value=name), EXISTING_DATABASE
            )
            assert "1 passed" in output, output
            assert someone_else.execute("SELECT 1").fetchone() == (1,)  # still connected
    finally:
        with admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
