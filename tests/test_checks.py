"""System checks and the project's management commands."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from chatkit_backend.checks import check_settings
from chatkit_backend.conf import ENVIRONMENT_KEYS, SETTINGS, conf

ROOT = Path(__file__).resolve().parent.parent


def ids(settings_dict, settings):
    settings.CHATKIT_BACKEND = settings_dict
    return sorted(message.id for message in check_settings())


def test_offline_default_is_announced(settings, monkeypatch):
    for name in ("LLM_PROVIDER", "OPENAI_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert ids({}, settings) == ["chatkit_backend.W003"]


def test_configured_provider_is_quiet(settings):
    assert ids({"LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-x"}, settings) == []


@pytest.mark.parametrize(
    "config",
    [
        {"LLM_PROVIDER": "gemini", "GEMINI_API_KEY": None},
        {"LLM_PROVIDER": "openai_compatible"},
        {"LLM_PROVIDER": "claude"},
    ],
)
def test_unusable_provider_is_a_warning(settings, monkeypatch, config):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    monkeypatch.delenv("LLM_MODEL", raising=False)
    assert "chatkit_backend.W002" in ids(config, settings)


def test_unknown_setting_and_bad_paths(settings):
    found = ids({"LLM_PROVIDER": "offline", "AGNET": "x", "AGENT": "nowhere.to.be.found"}, settings)
    assert found == ["chatkit_backend.E101", "chatkit_backend.W001", "chatkit_backend.W003"]


# -- every key is validated at startup, each with its own id and a hint -----------------------

# (key, a value that cannot work, words the message must contain)
BAD_VALUES = [
    ("AGENT", "nowhere.to.be.found", "cannot be imported"),
    ("AGENT", "chatkit_backend.access.AccessPolicy", "neither an agents.Agent nor a callable"),
    ("ACCESS_POLICY", "nowhere.Policy", "cannot be imported (No module named 'nowhere')"),
    ("ACCESS_POLICY", "chatkit_backend.server.DjangoChatKitServer", "not a subclass of"),
    ("SERVER_CLASS", "chatkit_backend.access.AccessPolicy", "not a subclass of"),
    ("AUTHENTICATION_CLASSES", ["rest_framework.authentication.Nope"], "cannot be imported"),
    ("AUTHENTICATION_CLASSES", "rest_framework.authentication.SessionAuthentication", "list"),
    ("ALLOW_ANONYMOUS", "yes", "must be True or False"),
    ("HISTORY_LIMIT", 0, "at least 1"),
    ("TITLE_MAX_LENGTH", "60", "must be an integer"),
    ("HISTORY_CONVERTER", "chatkit_backend.access.AccessPolicy", "ThreadItemConverter"),
    ("THROTTLE_RATES", {"requests": "lots"}, "'requests' the rate 'lots'"),
    ("THROTTLE_RATES", {"turn": "30/min"}, "scope 'turn'"),
    ("THROTTLE_RATES", "30/min", "must be a dict"),
    ("DAILY_TOKEN_BUDGET", -5, "at least 0"),
    ("ALLOWED_ORIGINS", ["https://chat.example.com/"], "not an origin"),
    ("ALLOWED_ORIGINS", "https://chat.example.com", "list of origins"),
    ("MAX_MESSAGE_CHARS", 2.5, "must be an integer"),
    ("REJECT_UNKNOWN_FIELDS", None, "must be True or False"),
    ("ATTACHMENTS", 1, "must be True or False"),
    ("ATTACHMENT_STORAGE", "bucket", "not an alias in settings.STORAGES"),
    ("ATTACHMENT_MAX_BYTES", True, "must be an integer"),
    ("ATTACHMENT_MAX_PER_MESSAGE", 0, "at least 1"),
    ("ATTACHMENT_ALLOWED_TYPES", ["PNG"], "not a lower-case MIME type"),
    ("ATTACHMENT_UPLOAD_METHOD", "PATCH", "one of: 'POST', 'PUT'"),
    ("ATTACHMENT_UPLOAD_URL_TTL", "10m", "must be an integer"),
    ("ATTACHMENT_PRESIGNED_UPLOADS", "true", "must be True or False"),
    ("ATTACHMENT_URL_TTL", -1, "at least 1"),
    ("ATTACHMENT_MODEL_TEXT_CHARS", None, "must be an integer"),
    ("ATTACHMENT_MODEL_MAX_BYTES", "8MB", "must be an integer"),
    ("MAX_PAGE_SIZE", "abc", "must be an integer"),
    ("MAX_REQUEST_BYTES", 0, "at least 1"),
    ("LLM_PROVIDER", 3, "must be a string"),
    ("LLM_MODEL", ["gpt-4.1"], "must be a string"),
    ("LLM_BASE_URL", "localhost:11434/v1", "http:// or https:// URL"),
    ("OPENAI_API_KEY", 12345, "must be a string"),
    ("GEMINI_API_KEY", b"bytes", "must be a string"),
    ("LLM_TIMEOUT", 0, "more than 0"),
    ("LLM_MAX_RETRIES", -1, "at least 0"),
    ("TRACING", "on", "must be True or False (or None)"),
    ("TRUSTED_PROXIES", ["10.0.0.1"], "must be an integer"),
    ("MAX_JSON_DEPTH", "32", "must be an integer"),
    ("MAX_JSON_CHARS", 0, "at least 1"),
    ("MAX_JSON_VALUES", None, "must be an integer"),
    ("ATTACHMENT_QUOTA_BYTES", -1, "at least 1"),
    ("ATTACHMENT_MAX_PENDING", True, "must be an integer"),
    ("RETENTION_DAYS", 0, "at least 1"),
    ("DOMAIN_KEY", 42, "must be a string"),
    ("TURN_TOKEN_RESERVATION", -1, "at least 0"),
    ("TURN_LEASE_SECONDS", 0, "more than 0"),
    ("DATABASE_THREADS", -1, "at least 0"),
    ("TITLE_AGENT", "chatkit_backend.access.AccessPolicy", "neither an agents.Agent nor"),
    ("TITLE_AGENT", "nowhere.title_agent", "cannot be imported"),
    ("TITLE_MODEL", 4, "must be a string"),
    ("TITLE_TIMEOUT", 0, "more than 0"),
    ("MODEL_CHOICES", "gpt-4.1", "must be a list of options"),
    ("MODEL_CHOICES", [{"id": "gpt-4.1"}], "has no 'label' string"),
    ("MODEL_CHOICES", [{"id": "a", "label": "A", "price": 1}], "the key 'price'"),
    ("MODEL_CHOICES", [{"id": "a", "label": "A", "default": "yes"}], "not a bool"),
    ("MODEL_CHOICES", [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}], "id twice"),
    (
        "MODEL_CHOICES",
        [{"id": "a", "label": "A", "default": True}, {"id": "b", "label": "B", "default": True}],
        "more than one option as the default",
    ),
    ("DAILY_TOKEN_BUDGET_WARNING", 80, "between 0 and 1"),
    ("TRANSCRIPTION_MODEL", ["whisper-1"], "must be a string"),
    ("DICTATION_MAX_BYTES", 0, "at least 1"),
    ("DICTATION_MAX_SECONDS", "1m", "number of seconds"),
    ("ENTITY_SEARCH", "chatkit_backend.conf.SETTINGS", "is not callable"),
    ("ENTITY_PREVIEW", "no.such.preview", "cannot be imported"),
    ("ON_DISCONNECT", "keep", "one of: 'cancel', 'finish'"),
    ("MAX_DETACHED_SECONDS", 0, "more than 0"),
    ("LIVE_AUTH_TIMEOUT", "10s", "number of seconds"),
    ("LIVE_MAX_FRAME_BYTES", 10, "at least 64"),
    ("SHUTDOWN_GRACE_SECONDS", -1, "more than 0"),
    ("PROGRESS_SAVE_SECONDS", None, "number of seconds"),
]


def test_every_key_has_its_own_id_and_a_bad_value_case():
    assert len({setting.check_id for setting in SETTINGS.values()}) == len(SETTINGS)
    assert {key for key, _, _ in BAD_VALUES} == set(SETTINGS)


@pytest.mark.parametrize(
    "key, value, words", BAD_VALUES, ids=[f"{key}-{value!r}" for key, value, _ in BAD_VALUES]
)
def test_a_bad_value_is_an_error_with_its_keys_id_and_a_hint(
    settings, monkeypatch, key, value, words
):
    for name in ENVIRONMENT_KEYS:
        monkeypatch.delenv(name, raising=False)
    settings.CHATKIT_BACKEND = {"LLM_PROVIDER": "offline", key: value}
    errors = [m for m in check_settings() if m.level >= checks.ERROR]
    [error] = errors
    assert error.id == SETTINGS[key].check_id
    assert f"CHATKIT_BACKEND[{key!r}]" in error.msg
    assert words in error.msg
    assert error.hint == SETTINGS[key].hint
    if "KEY" in key:
        assert repr(value) not in error.msg  # a key's value is never shown


def test_the_defaults_and_the_example_values_pass(settings):
    settings.CHATKIT_BACKEND = {
        "LLM_PROVIDER": "offline",
        "AGENT": "example_project.demo.agents.build_agent",
        "THROTTLE_RATES": {"turns": "5/second", "requests": None},
        "ALLOWED_ORIGINS": ["https://chat.example.com", "http://localhost:5173"],
        "DAILY_TOKEN_BUDGET": 100_000,
        "LLM_TIMEOUT": 7.5,
        "LLM_BASE_URL": "http://127.0.0.1:11434/v1/",
        "TRACING": False,
        "ATTACHMENT_STORAGE": "default",
        "TITLE_MODEL": "gpt-4.1-nano",
        "MODEL_CHOICES": [
            {"id": "gpt-4.1-mini", "label": "Fast", "default": True},
            {"id": "gpt-4.1", "label": "Careful", "description": "Slower", "disabled": False},
        ],
        "DAILY_TOKEN_BUDGET_WARNING": 0.9,
        "ENTITY_SEARCH": "chatkit_backend.entities.search_threads",
        "ENTITY_PREVIEW": "chatkit_backend.entities.preview_thread",
    }
    assert [m for m in check_settings() if m.level >= checks.ERROR] == []


def test_seconds_read_as_a_float_whichever_number_was_given(settings):
    # Code reads settings as conf gives them: no int() or float() of its own.
    settings.CHATKIT_BACKEND = {"TURN_LEASE_SECONDS": 2, "LLM_TIMEOUT": 7.5, "HISTORY_LIMIT": 9}
    assert (conf.TURN_LEASE_SECONDS, conf.LLM_TIMEOUT, conf.HISTORY_LIMIT) == (2.0, 7.5, 9)
    assert type(conf.TURN_LEASE_SECONDS) is float and type(conf.HISTORY_LIMIT) is int


def test_a_misspelt_key_suggests_the_closest_one(settings):
    settings.CHATKIT_BACKEND = {"LLM_PROVIDER": "offline", "HISTROY_LIMIT": 10}
    [warning] = [m for m in check_settings() if m.id == "chatkit_backend.W001"]
    assert "HISTROY_LIMIT" in warning.msg
    assert warning.hint == "Did you mean 'HISTORY_LIMIT'?"
    settings.CHATKIT_BACKEND = {"LLM_PROVIDER": "offline", "COLOUR": "blue"}
    [warning] = [m for m in check_settings() if m.id == "chatkit_backend.W001"]
    assert warning.hint.startswith("Known settings: ACCESS_POLICY, AGENT,")


def test_an_environment_variable_that_cannot_work_is_named_as_such(settings, monkeypatch):
    monkeypatch.setenv("LLM_BASE_URL", "localhost:11434")
    settings.CHATKIT_BACKEND = {"LLM_PROVIDER": "offline"}
    [error] = [m for m in check_settings() if m.level >= checks.ERROR]
    assert error.id == "chatkit_backend.E129"
    assert error.msg.startswith("The environment variable LLM_BASE_URL must be")


@pytest.mark.django_db  # Django 6.1's check command looks at the database connection too
def test_manage_py_check_fails_before_the_first_request(settings):
    settings.CHATKIT_BACKEND = {"LLM_PROVIDER": "offline", "ACCESS_POLICY": "nowhere.Policy"}
    with pytest.raises(SystemCheckError, match=r"chatkit_backend\.E102.*nowhere"):
        call_command("check", "--fail-level", "ERROR")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key, value",
    [
        ("ACCESS_POLICY", "nowhere.Policy"),
        ("MAX_PAGE_SIZE", "abc"),
        ("THROTTLE_RATES", {"requests": "lots"}),
    ],
)
def test_at_request_time_the_error_names_the_setting(chatkit_client, settings, key, value):
    """A site that runs despite the check fails with the setting's name, not an obscure
    ModuleNotFoundError, a 400 blaming the client or a KeyError deep inside DRF."""
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, key: value}
    with pytest.raises(ImproperlyConfigured, match=rf"CHATKIT_BACKEND\['{key}'\]"):
        chatkit_client.request("threads.list")


def test_cors_allow_all_with_credentials_warns(settings):
    settings.CORS_ALLOW_ALL_ORIGINS = True
    settings.CORS_ALLOW_CREDENTIALS = True
    assert "chatkit_backend.W004" in ids({"LLM_PROVIDER": "offline"}, settings)


@pytest.mark.django_db
def test_migrations_are_committed():
    call_command("makemigrations", "chatkit_backend", "--check", "--dry-run", verbosity=0)


@pytest.mark.parametrize(
    "args",
    [["check", "--fail-level", "ERROR"], ["makemigrations", "--check", "--dry-run"]],
)
def test_example_site_manage_py(args, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_none_in_settings_means_read_the_environment(settings, monkeypatch):
    from chatkit_backend.providers import resolve_provider

    monkeypatch.setenv("LLM_PROVIDER", "gemini")
    monkeypatch.setenv("GEMINI_API_KEY", "g-key")
    settings.CHATKIT_BACKEND = {"LLM_PROVIDER": None, "GEMINI_API_KEY": None}
    assert resolve_provider().provider == "gemini"
    settings.CHATKIT_BACKEND = {"LLM_PROVIDER": "offline"}
    assert resolve_provider().provider == "offline"


def test_upload_quotas_may_be_turned_off(settings):
    settings.CHATKIT_BACKEND = {
        "LLM_PROVIDER": "offline",
        "ATTACHMENT_QUOTA_BYTES": None,
        "ATTACHMENT_MAX_PENDING": None,
    }
    assert [m.id for m in check_settings() if m.level >= checks.ERROR] == []
