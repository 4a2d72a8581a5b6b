"""``chatkit_doctor``: each check catches the broken setup it is for, and the example site passes.

Broken setups are made with real parts: a storage folder that cannot exist, a Redis port
nobody listens on, the loopback model provider refusing a key, a migration marked unapplied.
Where the doctor predicts what the site will answer (CORS, ALLOWED_ORIGINS), a test asks the
site itself and checks the doctor agrees.
"""

from __future__ import annotations

import io
import re
import socket
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from chatkit_backend import doctor
from chatkit_backend.conf import SETTINGS
from tests.support.example_site import PYTHON, REPO, example_database, site_environment
from tests.support.fake_provider import FakeProvider
from tests.support.net import free_port

pytestmark = pytest.mark.django_db
KEY = "sk-doctor-test-0123456789abcdef"
LINE = re.compile(r"^(OK|WARN|FAIL|SKIP)\s+(.{13})  (.*)$")


class Report:
    """The doctor's output, read the way a person reads it: one line per finding."""

    def __init__(self, code: int, output: str):
        self.code = code
        self.output = output
        self.findings: list[tuple[str, str, str, str]] = []  # status, check, message, fix
        for line in output.splitlines():
            if match := LINE.match(line):
                status, check, message = match.groups()
                self.findings.append((status, check.strip(), message, ""))
            elif line.strip().startswith("fix: ") and self.findings:
                status, check, message, _ = self.findings[-1]
                self.findings[-1] = (status, check, message, line.strip()[len("fix: ") :])

    def of(self, check: str, status: str | None = None) -> list[tuple[str, str, str, str]]:
        return [f for f in self.findings if f[1] == check and status in (None, f[0])]

    def statuses(self, check: str) -> set[str]:
        return {f[0] for f in self.of(check)}


def run_doctor(*args: str) -> Report:
    out = io.StringIO()
    try:
        call_command("chatkit_doctor", *args, stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return Report(error.returncode, out.getvalue())
    return Report(0, out.getvalue())


@pytest.fixture(autouse=True)
def healthy(settings, monkeypatch):
    """A working site: ASGI, a domain key, a channel layer. Tests break one thing each."""
    for name in ("LLM_PROVIDER", "LLM_MODEL", "LLM_BASE_URL", "OPENAI_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings.ASGI_APPLICATION = "example_project.asgi.application"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DOMAIN_KEY": "domain_pk_localhost_dev"}
    return settings


@pytest.fixture
def provider_server():
    """The loopback OpenAI-compatible server (tests/support/fake_provider.py)."""
    with FakeProvider() as server:
        yield server


def configure(settings, **values) -> None:
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, **values}


def test_a_healthy_site_passes(media):
    report = run_doctor("--origin", "http://localhost:8000")
    assert report.code == 0, report.output
    assert "FAIL" not in report.output and "Nothing is broken" in report.output
    for check in ("asgi", "origin", "domain key", "storage", "migrations", "channel layer"):
        assert report.statuses(check) == {"OK"}, (check, report.output)
    assert not [p for p in media.rglob("*") if p.is_file()], "the storage probe is deleted"


# -- ASGI ----------------------------------------------------------------------------------


def test_asgi_application_that_does_not_import_fails(settings):
    settings.ASGI_APPLICATION = "mysite.asgi.application"
    report = run_doctor()
    assert report.code == 1
    [(_, _, message, fix)] = report.of("asgi", "FAIL")
    assert "'mysite.asgi.application' cannot be imported" in message
    assert "asgi.py" in fix


def test_only_wsgi_warns(settings):
    del settings.ASGI_APPLICATION
    settings.WSGI_APPLICATION = "mysite.wsgi.application"
    report = run_doctor()
    [(_, _, message, fix)] = report.of("asgi", "WARN")
    assert "answers arrive all at once" in message and "uvicorn" in fix
    assert report.code == 0  # a warning: it may run under uvicorn without the setting


def test_asgi_application_that_is_not_an_application_fails(settings):
    settings.ASGI_APPLICATION = "chatkit_backend.conf.DEFAULTS"  # imports, but is a dict
    [(_, _, message, _)] = run_doctor().of("asgi", "FAIL")
    assert "is not an application" in message


def test_runserver_without_daphne_warns_in_development(settings):
    settings.DEBUG = True
    [(_, _, message, fix)] = run_doctor().of("asgi", "WARN")
    assert "'daphne' is not in INSTALLED_APPS" in message and "daphne" in fix


def test_daphne_after_staticfiles_warns(monkeypatch):
    # The setting alone: loading daphne's app would register its system checks for the rest
    # of the session, so the app registry is left alone.
    from django.conf import settings

    apps = [*settings.INSTALLED_APPS, "django.contrib.staticfiles", "daphne"]
    monkeypatch.setattr(settings, "INSTALLED_APPS", apps)
    [(_, _, message, fix)] = run_doctor().of("asgi", "WARN")
    assert "runserver" in message and "first" in fix


# -- the provider --------------------------------------------------------------------------


def test_missing_key_fails(healthy):
    configure(healthy, LLM_PROVIDER="openai", OPENAI_API_KEY=None)
    report = run_doctor("--live")
    assert report.code == 1
    [(_, _, message, fix)] = report.of("provider", "FAIL")
    assert "LLM_PROVIDER=openai needs OPENAI_API_KEY" in message
    assert "environment" in fix
    assert report.statuses("provider") == {"FAIL", "SKIP"}  # no live call without a key


@pytest.mark.parametrize("provider", ["openai", "openai_compatible"])
def test_live_call_reaches_the_provider(healthy, provider_server, provider):
    configure(
        healthy,
        LLM_PROVIDER=provider,
        OPENAI_API_KEY=KEY,
        LLM_BASE_URL=provider_server.base_url,
        LLM_MODEL="fake-model",
    )
    provider_server.script("OK")
    report = run_doctor("--live")
    assert report.code == 0, report.output
    assert any("answered: 'OK'" in message for _, _, message, _ in report.of("provider", "OK"))
    [request] = provider_server.requests
    assert request.path.endswith("/responses" if provider == "openai" else "/chat/completions")
    assert request.json["model"] == "fake-model"


def test_live_call_reports_the_exact_refusal_without_the_key(healthy, provider_server):
    configure(
        healthy,
        LLM_PROVIDER="openai_compatible",
        OPENAI_API_KEY=KEY,
        LLM_BASE_URL=provider_server.base_url,
        LLM_MODEL="fake-model",
    )
    provider_server.fail_next(401)  # its message quotes the key back, as some providers do
    report = run_doctor("--live")
    assert report.code == 1
    [(_, _, message, fix)] = report.of("provider", "FAIL")
    assert "HTTP 401 (invalid_api_key): Incorrect API key provided: ***." in message
    assert "rejected the API key" in fix and "OPENAI_API_KEY" in fix
    assert KEY not in report.output and KEY[:12] not in report.output
    assert provider_server.requests[0].bearer == KEY  # the key was really sent


def test_live_call_to_nowhere_says_so(healthy):
    configure(
        healthy,
        LLM_PROVIDER="openai_compatible",
        LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1",
        LLM_MODEL="fake-model",
    )
    report = run_doctor("--live", "--timeout", "5")
    [(_, _, message, fix)] = report.of("provider", "FAIL")
    assert "APIConnectionError" in message
    assert "could not be reached" in fix


def test_system_check_errors_fail(healthy):
    configure(healthy, AGENT="nowhere.agents.build")
    report = run_doctor()
    assert report.code == 1
    [(_, _, message, _)] = report.of("system checks", "FAIL")
    assert message.startswith(SETTINGS["AGENT"].check_id)


# -- the page's origin ---------------------------------------------------------------------


def test_origin_outside_allowed_origins_fails_as_the_api_refuses_it(healthy, client):
    configure(healthy, ALLOWED_ORIGINS=["https://frontend.example"])
    report = run_doctor("--origin", "https://chat.example.com")
    [(_, _, message, fix)] = report.of("origin", "FAIL")
    assert "not in CHATKIT_BACKEND['ALLOWED_ORIGINS']" in message
    assert "'https://chat.example.com'" in fix
    # What the site itself answers that page's browser:
    response = client.post(
        "/chatkit/api",
        b"{}",
        content_type="application/json",
        headers={"Origin": "https://chat.example.com"},
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "origin_not_allowed"


def test_host_outside_allowed_hosts_fails(settings):
    settings.ALLOWED_HOSTS = ["api.example.com"]
    report = run_doctor("--origin", "https://chat.example.com")
    [(_, _, message, fix)] = report.of("origin", "FAIL")
    assert "chat.example.com is not in ALLOWED_HOSTS" in message and "'chat.example.com'" in fix
    ok = run_doctor("--origin", "https://app.example", "--api-url", "https://api.example.com/x")
    assert any("api.example.com is in ALLOWED_HOSTS" in f[2] for f in ok.of("origin", "OK"))


@pytest.mark.parametrize(
    "origin, allowed",
    [("https://frontend.example", True), ("https://elsewhere.example", False)],
)
def test_cors_verdict_matches_the_sites_preflight(client, origin, allowed):
    # tests.settings lists https://frontend.example in CORS_ALLOWED_ORIGINS.
    report = run_doctor("--origin", origin, "--api-url", "https://api.example/chatkit/api")
    cors = [f for f in report.findings if "CORS" in f[2]]
    assert [f[0] for f in cors] == (["OK"] if allowed else ["FAIL"])
    preflight = client.options(
        "/chatkit/api",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert (preflight.headers.get("Access-Control-Allow-Origin") == origin) is allowed


def test_cors_urls_regex_that_misses_the_api_fails(settings):
    settings.CORS_URLS_REGEX = r"^/api/.*$"
    report = run_doctor(
        "--origin", "https://frontend.example", "--api-url", "https://api.example/chatkit/api"
    )
    [(_, _, message, fix)] = [f for f in report.of("origin", "FAIL") if "CORS" in f[2]]
    assert "browsers block the answers" in message and "CORS_URLS_REGEX" in fix


def test_csrf_trusted_origins(settings):
    cross = ("--origin", "https://app.example.com", "--api-url", "https://api.example.com/c")
    [(_, _, message, fix)] = [f for f in run_doctor(*cross).of("origin", "WARN") if "CSRF" in f[2]]
    assert "session-cookie requests from it fail the CSRF check" in message
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com"]
    trusted = run_doctor(*cross)
    assert any("is in CSRF_TRUSTED_ORIGINS" in f[2] for f in trusted.of("origin", "OK"))
    # Same origin over https, TLS possibly ended at a proxy that Django is not told about:
    settings.CSRF_TRUSTED_ORIGINS = []
    [(_, _, message, fix)] = run_doctor("--origin", "https://chat.example.org").of("origin", "WARN")
    assert "SECURE_PROXY_SSL_HEADER" in message and "CSRF_TRUSTED_ORIGINS" in fix


@pytest.mark.parametrize("value", ["chat.example.com", "ftp://x.example", "https://x.example/p"])
def test_origin_must_be_an_origin(value):
    with pytest.raises(CommandError, match="origin"):
        call_command("chatkit_doctor", "--origin", value, stdout=io.StringIO())


def test_api_url_must_be_a_url():
    with pytest.raises(CommandError, match="not a URL"):
        call_command(
            "chatkit_doctor",
            "--origin",
            "https://a.example",
            "--api-url",
            "api.example/x",
            stdout=io.StringIO(),
        )


# -- the domain key ------------------------------------------------------------------------


def test_missing_domain_key_fails(healthy):
    configure(healthy, DOMAIN_KEY=None)
    report = run_doctor("--origin", "http://localhost:8000")
    assert report.code == 1
    [(_, _, message, fix)] = report.of("domain key", "FAIL")
    assert "widget stays blank" in message and "DOMAIN_KEY" in fix


def test_placeholder_domain_key_on_a_public_host_fails(settings):
    report = run_doctor("--origin", "https://chat.example.com")
    [(_, _, message, fix)] = report.of("domain key", "FAIL")
    assert "chat.example.com is not localhost" in message
    assert "domain allowlist" in fix
    for local in ("http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"):
        assert run_doctor("--origin", local).statuses("domain key") == {"OK"}


def test_a_real_looking_key_on_a_public_host_passes(healthy):
    configure(healthy, DOMAIN_KEY="domain_pk_68e4f0c2a1b34c5d")
    [(_, _, message, _)] = run_doctor("--origin", "https://chat.example.com").of("domain key")
    assert message.startswith("A domainKey is set for chat.example.com")


# -- attachment storage --------------------------------------------------------------------


def test_unwritable_storage_fails(healthy, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage wants a folder")
    healthy.STORAGES = {
        **healthy.STORAGES,
        "chatkit": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "media")},
        },
    }
    configure(healthy, ATTACHMENT_STORAGE="chatkit")
    report = run_doctor()
    assert report.code == 1
    [(_, _, message, fix)] = report.of("storage", "FAIL")
    assert "Attachments cannot be stored in STORAGES['chatkit']" in message
    assert str(blocker / "media") in fix


def test_unknown_storage_alias_fails(healthy):
    configure(healthy, ATTACHMENT_STORAGE="missing")
    [(_, _, message, fix)] = run_doctor().of("storage", "FAIL")
    assert "cannot be loaded" in message and "STORAGES" in fix


def test_storage_is_skipped_without_attachments(healthy):
    configure(healthy, ATTACHMENTS=False)
    assert run_doctor().statuses("storage") == {"SKIP"}


# -- migrations ----------------------------------------------------------------------------


def test_unapplied_migration_fails():
    # The newest migration of the app, as after an upgrade that brings one (marking an older
    # one unapplied under an applied child is a state ``migrate`` itself never plans for).
    [(app, name)] = [
        node
        for node in MigrationLoader(connection).graph.leaf_nodes()
        if node[0] == "chatkit_backend"
    ]
    MigrationRecorder(connection).record_unapplied(app, name)
    report = run_doctor()
    assert report.code == 1
    [(_, _, message, fix)] = report.of("migrations", "FAIL")
    assert f"chatkit_backend.{name}" in message and "migrate" in fix


# -- the channel layer ---------------------------------------------------------------------


def test_no_channel_layer_is_skipped(settings):
    del settings.CHANNEL_LAYERS
    assert run_doctor().statuses("channel layer") == {"SKIP"}


def test_channel_layer_that_does_not_import_fails(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "nowhere.Layer"}}
    report = run_doctor()
    assert report.code == 1
    [(_, _, message, fix)] = report.of("channel layer", "FAIL")
    assert "nowhere.Layer" in message and "CHANNEL_LAYERS" in fix


def redis_layer(host):
    return {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}
    }


def test_unreachable_redis_fails(settings):
    pytest.importorskip("channels_redis")
    settings.CHANNEL_LAYERS = redis_layer(f"redis://127.0.0.1:{free_port()}/0")
    report = run_doctor("--timeout", "5")
    assert report.code == 1
    [(_, _, message, _)] = report.of("channel layer", "FAIL")
    assert "did not come back" in message and "ConnectionError" in message


def redis_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not redis_running(), reason="needs Redis on 127.0.0.1:6379")
def test_redis_round_trip_and_idle_timeout_advice(settings):
    pytest.importorskip("channels_redis")
    redis = pytest.importorskip("redis")
    settings.CHANNEL_LAYERS = redis_layer("redis://127.0.0.1:6379/0")
    report = run_doctor()
    assert "OK" in report.statuses("channel layer")
    warned = bool(report.of("channel layer", "WARN"))
    assert warned is (int(redis.__version__.split(".")[0]) >= 8)
    settings.CHANNEL_LAYERS = redis_layer(
        {"address": "redis://127.0.0.1:6379/0", "socket_timeout": None}
    )
    assert run_doctor().statuses("channel layer") == {"OK"}


# -- the command as a whole ----------------------------------------------------------------


def test_a_crashing_check_is_reported_and_the_others_still_run(monkeypatch):
    def broken(options):
        raise RuntimeError("boom")

    monkeypatch.setitem(doctor.CHECKS, "asgi", broken)
    report = run_doctor()
    [(_, _, message, _)] = report.of("asgi", "FAIL")
    assert "The check itself failed: RuntimeError: boom" in message
    assert report.statuses("migrations") == {"OK"}


@pytest.fixture
def example_env(tmp_path):
    """The example site's environment, on a fresh database of its own (not migrated)."""
    with example_database(tmp_path) as database_url:
        yield site_environment(database_url)


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_example_site_fails_until_migrated_then_passes(example_env):
    before = manage(example_env, "chatkit_doctor", "--origin", "http://localhost:8000")
    assert before.returncode == 1, before.stdout + before.stderr
    report = Report(before.returncode, before.stdout)
    assert report.statuses("migrations") == {"FAIL"}
    assert "CommandError: Something is broken" in before.stderr

    assert manage(example_env, "migrate", "--noinput", "-v", "0").returncode == 0
    after = manage(example_env, "chatkit_doctor", "--origin", "http://localhost:8000")
    assert after.returncode == 0, after.stdout + after.stderr
    report = Report(after.returncode, after.stdout)
    assert "FAIL" not in after.stdout
    for check in ("asgi", "origin", "domain key", "storage", "migrations", "channel layer"):
        assert report.statuses(check) == {"OK"}, (check, after.stdout)


def test_an_unreachable_database_fails(example_env, tmp_path):
    # A database file in a folder that does not exist: SQLite cannot open it.
    env = {**example_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}"}
    result = manage(env, "chatkit_doctor")
    assert result.returncode == 1
    [(_, _, message, fix)] = Report(1, result.stdout).of("migrations", "FAIL")
    assert message.startswith("Cannot read the database: OperationalError")
    assert "DATABASE_URL" in fix


def test_an_application_without_the_lean_path_warns(settings, monkeypatch):
    import example_project.asgi

    monkeypatch.setattr(
        example_project.asgi, "application", example_project.asgi.django_application
    )
    [(_, _, message, fix)] = run_doctor().of("asgi", "WARN")
    assert "lean path" in message and "with_chatkit(get_asgi_application())" in fix


def test_the_lean_path_is_found_inside_wrappers(settings):
    from channels.routing import ProtocolTypeRouter
    from django.core.asgi import get_asgi_application

    from chatkit_backend.asgi import with_chatkit
    from chatkit_backend.doctor.asgi import takes_lean_path

    class StaticFiles:  # ASGIStaticFilesHandler's shape: the site's app as ``application``
        def __init__(self, application):
            self.application = application

    lean = with_chatkit(get_asgi_application())
    assert takes_lean_path(ProtocolTypeRouter({"http": StaticFiles(lean)}))
    assert not takes_lean_path(ProtocolTypeRouter({"http": get_asgi_application()}))
