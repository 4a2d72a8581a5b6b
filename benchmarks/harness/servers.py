"""The servers under test: uvicorn subprocesses on free ports, our site's database, and the
environment they run in (scrubbed, so nothing can reach a model service)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PYTHON = sys.executable
# Inherited variables that would change what the servers do, or reach the network.
SCRUBBED = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "LLM_PROVIDER",
    "LLM_MODEL",
    "LLM_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GEMINI_API_KEY",
    "BENCH_WORDS",
    "BENCH_DELTA_DELAY",
)
OUR_APP = "benchmarks.bench_asgi:application"  # the lean path, as the README deploys it
OUR_FULL_STACK_APP = "benchmarks.bench_asgi:full_stack"  # every request through MIDDLEWARE
PEER_APP = "benchmarks.peer_app:app"
SHARED_FLOOR_APP = "benchmarks.peer_app:shared_floor"  # the peer, its adapter cached
FLOOR_APP = "benchmarks.floor_app:app"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProc:
    """One uvicorn process (one worker, no access log) on a free 127.0.0.1 port."""

    def __init__(
        self, name: str, app: str, env: dict[str, str], *, src: Path, log_dir: Path, cpu: int | None
    ):
        self.name = name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        command = [PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", "1", "--no-access-log", "--log-level", "warning"]
        command += ["--timeout-keep-alive", "30"]
        self.process = subprocess.Popen(
            command,
            cwd=src,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if cpu is not None:
            # Before the app is imported, no thread exists yet: all threads inherit it.
            os.sched_setaffinity(self.process.pid, {cpu})

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/bench/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Terminate the process, kill it if it lingers, close its log; again: a no-op."""
        for end in (self.process.terminate, self.process.kill):
            if self.process.poll() is not None:
                break
            end()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        self._log.close()


class Servers:
    """Starts the run's servers and stops every one of them at the end, whatever happened.

    ``src`` is where they import the code from (a snapshot, or the working tree with
    --live-code); ``cpu`` is the CPU each is confined to with --pin (None: the OS decides);
    their logs go to ``log_dir``."""

    def __init__(self, src: Path, log_dir: Path, cpu: int | None = None) -> None:
        self.src = src
        self.log_dir = log_dir
        self.cpu = cpu
        self.started: list[ServerProc] = []

    def start(self, name: str, app: str, env: dict[str, str]) -> ServerProc:
        server = ServerProc(name, app, env, src=self.src, log_dir=self.log_dir, cpu=self.cpu)
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.started:
            with contextlib.suppress(Exception):
                server.stop()

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in SCRUBBED}
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(self.src), os.environ.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            OPENAI_AGENTS_DISABLE_TRACING="1",
            # No provider key anywhere: nothing can reach a model service.
            OPENAI_API_KEY="",
            GEMINI_API_KEY="",
        )
        env.update(extra)
        return env

    def site_env(self, database_url: str, words: int) -> dict[str, str]:
        return self.env(
            DJANGO_SETTINGS_MODULE="benchmarks.bench_settings",
            DATABASE_URL=database_url,
            BENCH_WORDS=str(words),
        )

    def prepare_site(self, database_url: str, plan: dict[str, Any], words: int) -> dict[str, Any]:
        """Migrate, create users and tokens, prefill threads (``benchmarks.site_tool``)."""
        result = subprocess.run(
            [PYTHON, "-m", "benchmarks.site_tool", json.dumps(plan)],
            cwd=self.src,
            env=self.site_env(database_url, words),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"site_tool failed:\n{result.stderr[-4000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the PostgreSQL server, dropped afterwards."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"chatkit_bench_{os.getpid()}_{secrets.token_hex(2)}"
    parts = urlsplit(admin_url)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with (
            contextlib.suppress(Exception),
            psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection,
        ):
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
