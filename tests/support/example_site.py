"""Run the example site as a user does: ``manage.py`` commands and real servers, in subprocesses.

The test process itself runs with ``tests.settings``; the example site gets its own
environment (``example_project.settings``, its own database, no model provider configured so
that the offline demo model answers).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# Inherited variables that would change what the example site does.
SCRUBBED = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "CORS_ALLOWED_ORIGINS",
    "CHATKIT_DOMAIN_KEY",
    "EXAMPLE_AUTO_LOGIN",
    "EXAMPLE_AGENT",
    "LLM_PROVIDER",
    "LLM_MODEL",
    "LLM_BASE_URL",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
)


@contextlib.contextmanager
def example_database(tmp_dir: Path) -> Iterator[str]:
    """A fresh, empty database for the example site, as a ``DATABASE_URL``.

    SQLite in ``tmp_dir``; or, when the test run has a PostgreSQL ``DATABASE_URL``, a new
    database on that server (not pytest-django's test database), dropped afterwards.
    """
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_dir / 'example.sqlite3'}"
        return

    import psycopg

    name = f"chatkit_example_{os.getpid()}_{secrets.token_hex(3)}"
    parts = urlsplit(base)

    def url_for(database: str) -> str:
        return urlunsplit(parts._replace(path=f"/{database}"))

    def admin_connection() -> psycopg.Connection:
        try:
            return psycopg.connect(base, autocommit=True)
        except psycopg.OperationalError:
            return psycopg.connect(url_for("postgres"), autocommit=True)

    with admin_connection() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_for(name)
    finally:
        with admin_connection() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def site_environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DATABASE_URL=database_url,
        DEBUG="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    env.update(extra)
    return env


class Server:
    """A server process of the example site, with its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path):
        self.name = name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("wb")
        command = [part.replace("{port}", str(self.port)) for part in command]
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def token(self, username: str, password: str) -> str:
        """An access JWT for ``username``, from the site's own ``api/token/``."""
        response = httpx.post(
            f"{self.base_url}/api/token/",
            json={"username": username, "password": password},
            timeout=20,
            trust_env=False,
        )
        assert response.status_code == 200, response.text
        return response.json()["access"]

    def bearer_client(self, username: str, password: str) -> httpx.Client:
        """An HTTP client of the site that authenticates as ``username`` with a JWT."""
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token(username, password)}"},
            timeout=30,
            trust_env=False,
        )

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


class ExampleSite:
    """The example site on one database: management commands and servers."""

    def __init__(self, env: dict[str, str], tmp_dir: Path):
        self.env = env
        self.tmp_dir = tmp_dir
        self.servers: list[Server] = []

    def manage(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self, kind: str, name: str | None = None) -> Server:
        """Start ``uvicorn`` or ``runserver`` (daphne) on a free port and wait for it.

        ``name`` tells several servers of one kind apart (and their log files).
        """
        commands = {
            "uvicorn": [
                PYTHON,
                "-m",
                "uvicorn",
                "example_project.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--lifespan",
                "off",
            ],
            "runserver": [PYTHON, "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"],
        }
        name = name or kind
        server = Server(name, commands[kind], self.env, self.tmp_dir / f"{name}.log")
        self.servers.append(server)
        server.wait_until_ready()
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@contextlib.contextmanager
def site_with_users(
    tmp_dir: Path, users: tuple[str, ...], password: str, **environment: str
) -> Iterator[ExampleSite]:
    """The example site on a database of its own, migrated, with ``users`` (all with
    ``password``); ``environment`` adds to :func:`site_environment`'s. Its servers stop on
    the way out. ``site.database_url`` names the database."""
    with example_database(tmp_dir) as database_url:
        site = ExampleSite(site_environment(database_url, **environment), tmp_dir)
        site.database_url = database_url  # type: ignore[attr-defined]
        try:
            site.manage("migrate", "--noinput", "-v", "0")
            site.manage(
                "shell",
                "-c",
                "from django.contrib.auth import get_user_model\n"
                f"for name in {users!r}:\n"
                f"    get_user_model().objects.create_user(name, password={password!r})",
            )
            yield site
        finally:
            site.stop()
