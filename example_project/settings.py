"""Settings of the example site.

Everything that differs between a laptop and a server comes from the environment:

- ``DEBUG`` (default on), ``SECRET_KEY`` (required when DEBUG is off), ``ALLOWED_HOSTS``
  and ``CSRF_TRUSTED_ORIGINS`` (comma-separated);
- ``DATABASE_URL`` (default: the SQLite file ``db.sqlite3`` next to ``manage.py``);
- ``DATABASE_POOL_SIZE``, the psycopg pool's ``max_size`` on PostgreSQL (default 20);
- ``REDIS_URL`` for the Channels layer (default: in memory, one process only);
- ``CORS_ALLOWED_ORIGINS`` (comma-separated; default: none);
- ``CHATKIT_DOMAIN_KEY``, the widget's domain key (any placeholder works on localhost);
- ``EXAMPLE_AUTO_LOGIN`` (default: on when DEBUG is on);
- ``EXAMPLE_AGENT``, a step of the "Learn ChatKit step by step" ladder in
  ``example_project/ladder/``: ``basic``, ``agent``, ``tool`` or ``multi_agent`` (default: the
  demo agent of ``example_project/demo/``); any other value stops the site at startup;
- the model provider, read by ``chatkit_backend.providers``: ``LLM_PROVIDER``, ``LLM_MODEL``,
  ``OPENAI_API_KEY``, ``GEMINI_API_KEY``, ``LLM_BASE_URL``. With none of them set, the
  offline demo model answers.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from example_project import ladder

# The folder that holds manage.py.
BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: use 1/true/yes/on or 0/false/no/off.")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# DEBUG defaults to ON because this is an example meant to run on a laptop in one command.
# A real site should default to off; here, set DEBUG=0 on any server.
DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY when DEBUG is off.")
    SECRET_KEY = "django-insecure-example-project-development-only"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
# Needed behind an HTTPS proxy for the session + CSRF path, e.g. "https://chat.example.com".
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # daphne first: its runserver replaces Django's, so `manage.py runserver` serves ASGI and
    # streams answers as they are produced.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "corsheaders",
    "rest_framework",
    "chatkit_backend",
    "example_project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # As high as possible, before anything that can answer (django-cors-headers' advice).
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "example_project.asgi.application"

# Channels: in memory by default (one process); Redis across processes and machines
# (`pip install "django-chatkit-backend[redis]"` and set REDIS_URL=redis://host:6379/0).
if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # socket_timeout None: with redis-py 8, the default 5 s read timeout kills an idle
            # socket's consumer (channels_redis#422), and the page's socket closes with 1006.
            "CONFIG": {"hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": None}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# SQLite by default, tuned so that concurrent ASGI requests (each runs its database work on
# its own thread and connection) wait for each other instead of failing with "database is
# locked": WAL lets readers run beside the writer, IMMEDIATE takes the write lock when a
# transaction starts (so it can wait for it), and `timeout` is how long it waits, in seconds.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
# Or DATABASE_URL, e.g. postgres://user:password@host:5432/name (or sqlite:////abs/path).
if os.environ.get("DATABASE_URL"):
    # Persistent connections stay off (conn_max_age=0): under ASGI each request may run on a
    # different thread. On PostgreSQL, psycopg's pool (Django 5.1+) makes closing a
    # connection cheap: it goes back to the pool, ready for the next request.
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": int(os.environ.get("DATABASE_POOL_SIZE", "20")),
        }
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "media"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "index"

# Django REST framework and SimpleJWT: POST api/token/ {"username", "password"} answers an
# access and a refresh token; send the access token as "Authorization: Bearer <token>".
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=1),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
}

# CORS: only for frontends on other origins that call the API with bearer tokens, e.g.
# CORS_ALLOWED_ORIGINS=http://localhost:5173,https://app.example.com. Never allow all origins.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/(chatkit|api)/.*$"

# Which step of the ladder answers (example_project/ladder/): unset, the demo agent. A value
# that names no step raises ImproperlyConfigured here, so the site never starts on a typo.
EXAMPLE_AGENT = os.environ.get("EXAMPLE_AGENT", "").strip()
_example_step = ladder.step(EXAMPLE_AGENT)  # lower case: not a setting itself

CHATKIT_BACKEND = {
    # The agent that answers (resolved on every request, so it can depend on the user) and,
    # for some steps, the server class: from the step, see example_project/ladder/__init__.py.
    **_example_step.chatkit_backend,
    # The ChatKit widget's domain key (the page passes it to the widget). Any non-empty
    # placeholder works on localhost; a public host must be on your OpenAI domain allowlist,
    # with the key it gives you. `manage.py chatkit_doctor --origin ...` checks it.
    "DOMAIN_KEY": os.environ.get("CHATKIT_DOMAIN_KEY", "domain_pk_localhost_dev"),
}

# EXAMPLE ONLY: when on (by default, whenever DEBUG is on), the page at / logs every visitor
# in as a "demo" user created on the fly, so a newcomer can chat without creating an account.
# Never turn this on for a site that others can reach.
EXAMPLE_AUTO_LOGIN = env_bool("EXAMPLE_AUTO_LOGIN", DEBUG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"chatkit_backend": {"handlers": ["console"], "level": "INFO"}},
}
