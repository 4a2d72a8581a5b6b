"""The README's "Install in your site", followed as written in a fresh ``startproject``.

The code blocks are read from README.md, so the README cannot drift from what works: the shell
commands run in a temporary folder (``pip install`` aside: this environment has the package
already), the Python blocks are written where their first line says, then the site is checked,
migrated and served by ``manage.py runserver`` (daphne), and a browser's CORS preflight, a
SimpleJWT token and a chat turn go to it over HTTP, as a signed-in user and, with
``ALLOW_ANONYMOUS``, as a visitor (``context.user`` is ``None``). The offline demo model
answers, and calls the README's ``order_status`` tool because the message names it.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from chatkit.types import AssistantMessageItem, ThreadItemDoneEvent

from chatkit_backend.testing import message_input, parse_sse
from tests.support.net import free_port

# Runs once per Django version: the suite's PostgreSQL run would repeat it unchanged.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="the README's site has a SQLite database of its own: the SQLite run covers it",
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FRONTEND_ORIGIN = "http://localhost:5173"
PASSWORD = "a-long-test-password-42"


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def code_blocks(section: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, in order."""
    return re.findall(r"^```(\w+)\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)


def environment(home: Path) -> dict[str, str]:
    # No provider keys: the offline demo model answers. The package comes from this venv.
    return {
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{shlex.join(command)}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def follow_the_readme(workdir: Path, env: dict[str, str]) -> Path:
    """Run the section's commands and write its files; returns the project's folder."""
    cwd = workdir
    for language, code in code_blocks(readme_section("Install in your site")):
        if language == "python":
            first_line = code.partition("\n")[0]
            match = re.match(r"# (\S+)( \(add at the end\))?$", first_line)
            assert match, f"a Python block must say which file it is: {first_line!r}"
            path = cwd / match.group(1)
            if match.group(2):
                path.write_text(path.read_text() + "\n" + code)
            else:
                path.write_text(code)
        elif language == "bash" and "curl" not in code:
            for line in code.strip().splitlines():
                command = shlex.split(line)
                if command[:2] == ["pip", "install"]:
                    assert any(arg.endswith("django-chatkit-backend[postgres]") for arg in command)
                elif command[0] == "cd":
                    cwd = cwd / command[1]
                elif command[2:3] == ["runserver"]:
                    continue  # started by the test, on a free port
                elif command[2:3] == ["createsuperuser"]:
                    run(
                        [
                            *command,
                            "--noinput",
                            "--username",
                            "admin",
                            "--email",
                            "admin@example.com",
                        ],
                        cwd,
                        env,
                    )
                else:
                    run(command, cwd, env)
    return cwd


@contextmanager
def runserver(project: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "python"), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "runserver did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()


def ask(http: httpx.Client, text: str, headers: dict[str, str]) -> str:
    body = {"type": "threads.create", "params": {"input": message_input(text)}}
    response = http.post("/chatkit/api", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.content)
    answers = [
        e.item
        for e in events
        if isinstance(e, ThreadItemDoneEvent) and isinstance(e.item, AssistantMessageItem)
    ]
    return " ".join(part.text for item in answers for part in item.content)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    workdir = tmp_path_factory.mktemp("newcomer")
    env = environment(workdir)
    project = follow_the_readme(workdir, env)
    return project, env


def test_the_readme_site_passes_its_checks(site):
    project, env = site
    output = run([str(BIN / "python"), "manage.py", "check", "--fail-level", "ERROR"], project, env)
    assert "chatkit_backend.E" not in output
    run([str(BIN / "python"), "manage.py", "makemigrations", "--check", "--dry-run"], project, env)


def test_the_readme_site_answers_a_signed_in_user_and_a_browser_on_another_origin(site):
    project, env = site
    run(
        [
            str(BIN / "python"),
            "manage.py",
            "shell",
            "-c",
            "from django.contrib.auth.models import User; from support.models import Order; "
            "Order.objects.create(customer=User.objects.get(username='admin'), number='A-1', "
            "status='shipped')",
        ],
        project,
        env,
    )
    with runserver(project, env) as url, httpx.Client(base_url=url, timeout=30) as http:
        preflight = http.options(
            "/chatkit/api",
            headers={
                "Origin": FRONTEND_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
        assert "authorization" in preflight.headers["access-control-allow-headers"]

        token = http.post("/api/token/", json={"username": "admin", "password": PASSWORD})
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access']}", "Origin": FRONTEND_ORIGIN}
        assert (
            http.post("/chatkit/api", json={"type": "threads.list", "params": {}}).status_code
            == 401
        )
        answer = ask(http, 'Where is my order? order_status {"number": "A-1"}', bearer)
        assert "Order A-1 is shipped." in answer
        listed = http.post(
            "/chatkit/api", json={"type": "threads.list", "params": {}}, headers=bearer
        )
        assert len(listed.json()["data"]) == 1


def test_the_readme_agent_works_for_anonymous_visitors(site):
    project, env = site
    settings_file = project / "mysite" / "settings.py"
    original = settings_file.read_text()
    settings_file.write_text(original + '\nCHATKIT_BACKEND["ALLOW_ANONYMOUS"] = True\n')
    try:
        with runserver(project, env) as url, httpx.Client(base_url=url, timeout=30) as http:
            # A visitor's browser holds a CSRF cookie from a page of the site (any form sets
            # one; here the admin's login page) and sends its token, as a signed-in one does.
            assert http.get("/admin/login/").status_code == 200
            answer = ask(
                http, 'order_status {"number": "A-1"}', {"X-CSRFToken": http.cookies["csrftoken"]}
            )
            assert "not signed in" in answer
            assert "sessionid" in http.cookies  # the visitor's threads belong to this session
    finally:
        settings_file.write_text(original)
