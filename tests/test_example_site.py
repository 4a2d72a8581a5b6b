"""End to end: the example site, started like a user starts it, spoken to over HTTP.

The site runs in subprocesses (``manage.py migrate``, ``uvicorn``, ``manage.py runserver``)
with its own settings and database; no model provider is configured, so the offline demo
model answers.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatkit.types import ErrorEvent, Page, Thread, ThreadCreatedEvent

from chatkit_backend.providers.offline import LABEL
from chatkit_backend.testing import ChatKitClient, message_input, parse_sse
from tests.support.example_site import (
    REPO,
    SCRUBBED,
    ExampleSite,
    Server,
    example_database,
    site_environment,
)

USERNAME = "alice"
PASSWORD = "correct-horse-battery"
ALLOWED_ORIGIN = "http://frontend.example.test"
CDN_SCRIPT = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"


# -- the site ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    tmp_dir = tmp_path_factory.mktemp("example-site")
    with example_database(tmp_dir) as database_url:
        site = ExampleSite(
            site_environment(database_url, CORS_ALLOWED_ORIGINS=ALLOWED_ORIGIN), tmp_dir
        )
        try:
            site.manage("migrate", "--noinput", "-v", "0")
            site.manage(
                "shell",
                "-c",
                "from django.contrib.auth import get_user_model; "
                f"get_user_model().objects.create_user({USERNAME!r}, password={PASSWORD!r})",
            )
            yield site
        finally:
            site.stop()


@pytest.fixture(scope="module")
def uvicorn_server(site: ExampleSite):
    server = site.start("uvicorn")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def runserver_server(site: ExampleSite):
    """``manage.py runserver``: daphne's, since daphne comes first in INSTALLED_APPS."""
    server = site.start("runserver")
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["uvicorn", "runserver"])
def server(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture(scope="module")
def token(uvicorn_server) -> str:
    """A JWT for ``alice``, from the site's own ``api/token/``."""
    response = httpx.post(
        f"{uvicorn_server.base_url}/api/token/",
        json={"username": USERNAME, "password": PASSWORD},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stream_op(client: httpx.Client, headers: dict[str, str], op: str, **params: Any):
    """POST a streaming op; return the response and its body's chunks with arrival times."""
    body = json.dumps({"type": op, "params": params})
    chunks: list[tuple[float, bytes]] = []
    with client.stream(
        "POST",
        "/chatkit/api",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    ) as response:
        for chunk in response.iter_raw():
            chunks.append((time.perf_counter(), chunk))
    return response, chunks


# -- settings ---------------------------------------------------------------------------------


def load_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """Execute example_project/settings.py afresh with ``env`` (nothing else of ours set)."""
    for name in SCRUBBED:
        if name != "DJANGO_SETTINGS_MODULE":
            monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(
        "example_settings_under_test", REPO / "example_project" / "settings.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_defaults(monkeypatch):
    settings = load_settings(monkeypatch)
    assert settings.INSTALLED_APPS[0] == "daphne"
    assert "example_project.demo" in settings.INSTALLED_APPS
    assert settings.ASGI_APPLICATION == "example_project.asgi.application"
    assert settings.DEBUG is True and settings.EXAMPLE_AUTO_LOGIN is True
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(database["NAME"]) == REPO / "db.sqlite3"
    assert database["OPTIONS"] == {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert settings.CORS_ALLOWED_ORIGINS == []
    assert not getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False)
    assert settings.CHATKIT_BACKEND["AGENT"] == "example_project.demo.agents.build_agent"
    assert settings.CHATKIT_BACKEND["DOMAIN_KEY"] == "domain_pk_localhost_dev"


def test_settings_from_environment(monkeypatch):
    settings = load_settings(
        monkeypatch,
        DEBUG="0",
        SECRET_KEY="s3cret",
        ALLOWED_HOSTS="chat.example.com",
        DATABASE_URL="postgres://user:pw@db.internal:5432/chat",
        REDIS_URL="redis://cache.internal:6379/0",
        CORS_ALLOWED_ORIGINS="https://a.example, https://b.example",
    )
    assert settings.DEBUG is False and settings.EXAMPLE_AUTO_LOGIN is False
    assert settings.SECRET_KEY == "s3cret"
    assert settings.ALLOWED_HOSTS == ["chat.example.com"]
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["NAME"]) == ("db.internal", "chat")
    assert "transaction_mode" not in database.get("OPTIONS", {})
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] == [
        {"address": "redis://cache.internal:6379/0", "socket_timeout": None}
    ]
    assert settings.CORS_ALLOWED_ORIGINS == ["https://a.example", "https://b.example"]

    # A SQLite DATABASE_URL keeps the options that make it safe under concurrency.
    settings = load_settings(monkeypatch, DATABASE_URL="sqlite:////tmp/elsewhere.sqlite3")
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_settings_refuse_unsafe_or_unclear_values(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load_settings(monkeypatch, DEBUG="0")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='verbose'"):
        load_settings(monkeypatch, DEBUG="verbose")


# -- chatting over HTTP -----------------------------------------------------------------------


def test_chat_streams_and_calls_tools(server, token):
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        response, chunks = stream_op(
            client, bearer(token), "threads.create", input=message_input("Hello there")
        )
        assert response.status_code == 200, b"".join(c for _, c in chunks)
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"

        # It streams: the answer arrives in pieces, the first before the last was produced.
        assert len(chunks) > 1
        first_events = parse_sse(chunks[0][1])
        assert isinstance(first_events[0], ThreadCreatedEvent)
        assert chunks[0][0] < chunks[-1][0]

        events = parse_sse(b"".join(chunk for _, chunk in chunks))
        assert not [event for event in events if isinstance(event, ErrorEvent)]
        thread_id = first_events[0].thread.id
        api = ChatKitClient(client, headers=bearer(token))
        created = api.get_thread(thread_id)
        assert created.title == "Hello there"

        # The offline model says what it is ...
        text = "".join(
            part.text
            for event in events
            if event.type == "thread.item.done" and event.item.type == "assistant_message"
            for part in event.item.content
        )
        assert LABEL in text
        assert 'You said: "Hello there"' in text

        # ... and calls the demo agent's tool when the user names it.
        answer = api.send(thread_id, 'What time is it? get_current_time {"timezone": "UTC"}')
        assert answer.errors == []
        assert "The tool `get_current_time` returned:" in answer.assistant_text
        assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", answer.assistant_text)

        items = api.list_items(thread_id, order="asc")
        assert [item.type for item in items.data] == [
            "user_message",
            "assistant_message",
            "user_message",
            "assistant_message",
        ]


def test_runserver_is_daphne(runserver_server, token):
    with httpx.Client(base_url=runserver_server.base_url, timeout=30) as client:
        api = ChatKitClient(client, headers=bearer(token))
        created = api.create_thread("Hello through runserver")
        assert created.response.is_stream and created.errors == []
        assert created.thread_id in [thread.id for thread in api.list_threads().data]
    assert "Daphne" in runserver_server.log()


def test_deeply_nested_input_is_refused_and_stores_nothing(server, token):
    # Before: an input_tag nested 300 levels broke the turn after the thread was written;
    # under daphne the response never ended (here: a read timeout).
    value: Any = "leaf"
    for _ in range(300):
        value = {"a": value}
    tag = {"type": "input_tag", "id": "t", "text": "tag", "data": value}
    body = {
        "type": "threads.create",
        "params": {"input": {"content": [tag], "attachments": [], "inference_options": {}}},
    }
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        api = ChatKitClient(client, headers=bearer(token))
        before = {thread.id for thread in api.list_threads(limit=100).data}
        response = api.post(json.dumps(body))
        assert response.status == 400, response.content[:300]
        assert response.json()["error"]["code"] == "json_too_deep"
        assert {thread.id for thread in api.list_threads(limit=100).data} == before


def test_demo_token_command(site, uvicorn_server):
    demo_token = site.manage("demo_token").stdout.strip()
    assert demo_token.count(".") == 2  # a JWT, alone on stdout
    with httpx.Client(base_url=uvicorn_server.base_url, timeout=30) as client:
        api = ChatKitClient(client, headers=bearer(demo_token))
        result = api.create_thread('Please roll_dice {"sides": 20}')
        assert "The tool `roll_dice` returned:" in result.assistant_text
        assert [thread.id for thread in api.list_threads().data] == [result.thread_id]


def test_token_refresh(uvicorn_server):
    with httpx.Client(base_url=uvicorn_server.base_url, timeout=30) as client:
        pair = client.post("/api/token/", json={"username": USERNAME, "password": PASSWORD})
        refreshed = client.post("/api/token/refresh/", json={"refresh": pair.json()["refresh"]})
        assert refreshed.status_code == 200
        assert refreshed.json()["access"]
        wrong = client.post("/api/token/", json={"username": USERNAME, "password": "nope"})
        assert wrong.status_code == 401


def test_parallel_requests_do_not_lock_the_database(site, uvicorn_server, token):
    def create(index: int) -> tuple[int, str]:
        body = json.dumps(
            {"type": "threads.create", "params": {"input": message_input(f"parallel {index}")}}
        )
        response = httpx.post(
            f"{uvicorn_server.base_url}/chatkit/api",
            content=body,
            headers={"Content-Type": "application/json", **bearer(token)},
            timeout=60,
        )
        return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(create, range(10)))

    for status, body in results:
        assert status == 200, body
        assert "database is locked" not in body
        events = parse_sse(body.encode())
        assert not [event for event in events if isinstance(event, ErrorEvent)], body
        assert LABEL in body
    assert "database is locked" not in uvicorn_server.log()
    assert "Traceback" not in uvicorn_server.log()

    with httpx.Client(base_url=uvicorn_server.base_url, timeout=30) as client:
        page = ChatKitClient(client, headers=bearer(token)).list_threads(limit=100)
        titles = {thread.title for thread in page.data}
        assert {f"parallel {index}" for index in range(10)} <= titles


def test_api_refuses_anonymous_requests(uvicorn_server):
    response = httpx.post(
        f"{uvicorn_server.base_url}/chatkit/api",
        json={"type": "threads.list", "params": {}},
        timeout=30,
    )
    assert response.status_code == 401


# -- the page ---------------------------------------------------------------------------------


def test_page_logs_in_and_session_requests_need_csrf(uvicorn_server):
    with httpx.Client(base_url=uvicorn_server.base_url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200
        html = page.text
        assert f'<script src="{CDN_SCRIPT}" async' in html
        assert "<openai-chatkit" in html
        assert "window.chatkitFetch" in html
        config = json.loads(
            re.search(
                r'<script id="chatkit-config" type="application/json">(.*?)</script>', html
            ).group(1)
        )
        assert config["apiUrl"] == "/chatkit/api"
        assert config["domainKey"] == "domain_pk_localhost_dev"
        assert config["uploadUrl"] == "/chatkit/api/upload"
        assert config["authenticated"] is True
        assert "Signed in as <strong>demo</strong>" in html
        assert client.cookies.get("sessionid")
        csrf = client.cookies.get("csrftoken")
        assert csrf

        body = {"type": "threads.list", "params": {"limit": 5}}
        refused = client.post("/chatkit/api", json=body)
        assert refused.status_code == 403, refused.text
        accepted = client.post("/chatkit/api", json=body, headers={"X-CSRFToken": csrf})
        assert accepted.status_code == 200, accepted.text
        assert accepted.headers["content-type"].startswith("application/json")
        Page[Thread].model_validate_json(accepted.content)

        # The session can chat too, and streams like a bearer token does.
        api = ChatKitClient(client, headers={"X-CSRFToken": csrf})
        assert LABEL in api.create_thread("Hi from the page").assistant_text


WITHOUT_AUTO_LOGIN = f"""
import json
from django.test import Client, override_settings

with override_settings(EXAMPLE_AUTO_LOGIN=False):
    client = Client(HTTP_HOST="localhost")
    anonymous = client.get("/").content.decode()
    login_page = client.get("/accounts/login/?next=/")
    logged_in = client.post(
        "/accounts/login/", {{"username": {USERNAME!r}, "password": {PASSWORD!r}, "next": "/"}}
    )
    page = client.get("/").content.decode()
print(json.dumps({{
    "anonymous_note": "You are not signed in" in anonymous,
    "login_status": login_page.status_code,
    "redirect": logged_in.headers.get("Location"),
    "signed_in": "Signed in as <strong>{USERNAME}</strong>" in page,
}}))
"""


def test_page_without_auto_login_asks_to_log_in(site):
    output = site.manage("shell", "-c", WITHOUT_AUTO_LOGIN).stdout
    result = json.loads(output.strip().splitlines()[-1])
    assert result == {
        "anonymous_note": True,
        "login_status": 200,
        "redirect": "/",
        "signed_in": True,
    }


def test_cors_allows_only_configured_origins(uvicorn_server):
    def preflight(origin: str) -> httpx.Response:
        return httpx.options(
            f"{uvicorn_server.base_url}/chatkit/api",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
            timeout=30,
        )

    allowed = preflight(ALLOWED_ORIGIN)
    assert allowed.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    other = preflight("http://evil.example.test")
    assert "access-control-allow-origin" not in other.headers


# -- the page in a real browser ---------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class DevTools:
    """A tiny Chrome DevTools Protocol client (flattened sessions over one WebSocket)."""

    def __init__(self, url: str):
        from websockets.sync.client import connect

        self.socket = connect(url, max_size=None, open_timeout=20)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self.socket.close()

    def _receive(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("No answer from the browser in time.")
        return json.loads(self.socket.recv(timeout=remaining))

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + 30
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(self._receive(deadline))

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            session,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"The page raised: {result['exceptionDetails']}")
        return result["result"].get("value")


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium; every host but 127.0.0.1 fails to resolve, so no test reaches out."""
    pytest.importorskip("websockets.sync.client")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--remote-debugging-port=0",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:  # read stderr to the end, so that the browser never blocks on it
        assert process.stderr is not None
        for line in process.stderr:
            if not found and "DevTools listening on " in line:
                found.append(line.split("DevTools listening on ", 1)[1].strip())
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    devtools = None
    try:
        assert ready.wait(30) and found, "Chromium did not start its DevTools endpoint"
        devtools = DevTools(found[0])
        yield devtools
    finally:
        if devtools is not None:
            devtools.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


PAGE_CHECK = """
(async () => {
  const post = (body) => window.chatkitFetch("/chatkit/api", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body),
  });
  const list = await post({type: "threads.list", params: {limit: 5, order: "desc"}});
  const listBody = await list.text();
  const created = await post({type: "threads.create", params: {input: {
    content: [{type: "input_text", text: "Hello from Chromium"}],
    attachments: [], inference_options: {},
  }}});
  const reader = created.body.getReader();
  const decoder = new TextDecoder();
  let reads = 0, streamed = "";
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    reads += 1;
    streamed += decoder.decode(value, {stream: true});
  }
  return {
    listStatus: list.status,
    listType: list.headers.get("content-type"),
    listBody,
    createStatus: created.status,
    createType: created.headers.get("content-type"),
    reads,
    streamed,
    noteShown: !document.getElementById("chatkit-load-note").hidden,
    widgetDefined: Boolean(customElements.get("openai-chatkit")),
  };
})()
"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_page_in_a_browser(uvicorn_server, browser):
    target = browser.send("Target.createTarget", url="about:blank")
    session = browser.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)[
        "sessionId"
    ]
    browser.send("Page.enable", session)
    browser.send("Page.navigate", session, url=f"{uvicorn_server.base_url}/")
    browser.wait_for("Page.loadEventFired")

    result = browser.evaluate(session, PAGE_CHECK)

    assert result["listStatus"] == 200, result["listBody"]
    assert result["listType"].startswith("application/json")
    Page[Thread].model_validate_json(result["listBody"])
    assert result["createStatus"] == 200
    assert result["createType"].startswith("text/event-stream")
    events = parse_sse(result["streamed"].encode())
    assert isinstance(events[0], ThreadCreatedEvent)
    assert LABEL in result["streamed"]
    # The CDN is unreachable here: the page must say so instead of staying blank.
    assert result["noteShown"] or result["widgetDefined"]


# -- the live socket under real servers ----------------------------------------------------------


def socket_closed_with(server: Server, token: str, frames: list[str]) -> int:
    """Authenticate a ``chatkit/ws`` socket with ``token``, send ``frames``, and return the
    code the server closed it with."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = server.base_url.replace("http://", "ws://") + "/chatkit/ws"
    with connect(url, origin=server.base_url, max_size=None, open_timeout=20) as socket:
        socket.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "ready"}
        try:
            for frame in frames:
                socket.send(frame)
            while True:
                socket.recv(timeout=10)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server dropped the socket without a close frame"
            return closed.rcvd.code
    raise AssertionError("unreachable")


def test_an_oversized_socket_frame_closes_cleanly(server, token):
    # daphne (autobahn) refuses close codes outside 1000 and 3000-4999: 1009 became a server
    # error (1011) with a traceback in the log.
    code = socket_closed_with(server, token, [json.dumps({"type": "ping", "pad": "x" * 70_000})])
    assert code == 4413
    assert "Traceback" not in server.log()


def test_a_flood_of_socket_frames_closes_cleanly(server, token):
    code = socket_closed_with(server, token, [json.dumps({"type": "ping"})] * 60)
    assert code == 4429
    assert "Traceback" not in server.log()
