"""Minimal settings for the test suite: the reusable app on its own, no example site.

``DATABASE_URL`` selects the database (PostgreSQL in CI); SQLite otherwise, in a file so that
an ASGI server thread started by a test shares it with the test itself.
"""

import os
import tempfile

import dj_database_url

SECRET_KEY = "tests-only-not-secret-but-long-enough-for-hs256-keys"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "corsheaders",
    "rest_framework",
    "chatkit_backend",
]
MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
_sqlite_file = os.path.join(tempfile.gettempdir(), f"chatkit-backend-tests-{os.getpid()}.sqlite3")
DATABASES = {
    "default": dj_database_url.parse(os.environ["DATABASE_URL"])
    if os.environ.get("DATABASE_URL")
    else {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _sqlite_file,
        "TEST": {"NAME": _sqlite_file},
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
CORS_ALLOWED_ORIGINS = ["https://frontend.example"]
if os.environ.get("DATABASE_URL"):
    # A name of this run's own, so parallel runs on one server do not drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_chatkit_{os.getpid()}"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CHATKIT_BACKEND = {
    # Tests never reach a provider unless a test points LLM_BASE_URL at its own server.
    "LLM_PROVIDER": "offline",
    "LLM_MAX_RETRIES": 0,
}
SILENCED_SYSTEM_CHECKS = ["chatkit_backend.W003"]
# The live socket's notices (chatkit_backend.live) travel through a channel layer.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
