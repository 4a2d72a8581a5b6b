"""System checks and the project's management commands."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from chatkit_backend.checks import check_limits, check_settings

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
    assert "chatkit_backend.W001" in found
    assert "chatkit_backend.E002" in found


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


@pytest.mark.parametrize(
    ("config", "wrong"),
    [
        ({}, []),
        ({"ATTACHMENT_QUOTA_BYTES": None, "ATTACHMENT_MAX_PENDING": None}, []),
        ({"TRUSTED_PROXIES": ["10.0.0.1"]}, ["chatkit_backend.E005"]),
        ({"MAX_JSON_DEPTH": "32", "MAX_REQUEST_BYTES": -1}, ["chatkit_backend.E005"] * 2),
        ({"MAX_JSON_VALUES": None}, ["chatkit_backend.E005"]),
        ({"ATTACHMENT_MAX_PENDING": True}, ["chatkit_backend.E005"]),
    ],
)
def test_limits_must_be_whole_numbers(settings, config, wrong):
    settings.CHATKIT_BACKEND = config
    assert [message.id for message in check_limits()] == wrong
