"""Serving: the ASGI application, ``runserver``'s server, and Django's system checks."""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.core.checks import ERROR, run_checks
from django.utils.module_loading import import_string

from .findings import Finding, Options
from .provider import PROVIDER_CHECK_IDS


def check_asgi(options: Options) -> Iterator[Finding]:
    path = getattr(settings, "ASGI_APPLICATION", None)
    serve_asgi = (
        "Serve the site with an ASGI server (uvicorn mysite.asgi:application, daphne, "
        "granian) and set ASGI_APPLICATION = 'mysite.asgi.application'."
    )
    if path:
        try:
            application = import_string(path)
        except Exception as error:
            yield Finding(
                "fail",
                "asgi",
                f"ASGI_APPLICATION {path!r} cannot be imported: {type(error).__name__}: {error}",
                "Point ASGI_APPLICATION at the `application` in your project's asgi.py.",
            )
            return
        if not callable(application):
            yield Finding(
                "fail", "asgi", f"ASGI_APPLICATION {path!r} is not an application.", serve_asgi
            )
            return
        yield Finding("ok", "asgi", f"ASGI_APPLICATION {path!r} imports.")
        if not takes_lean_path(application):
            yield Finding(
                "warn",
                "asgi",
                f"ASGI_APPLICATION {path!r} does not send ChatKit's endpoints down the lean "
                "path: each request pays a thread hop per middleware (about 13 with Django's "
                "standard stack), which under load is most of the backend's own time.",
                "In asgi.py: `application = with_chatkit(get_asgi_application())` (from "
                "chatkit_backend.asgi). If you serve it unwrapped on purpose, ignore this.",
            )
    else:
        yield Finding(
            "warn",
            "asgi",
            "ASGI_APPLICATION is not set: if the site runs under WSGI, answers arrive all at "
            "once when the turn ends, and a closed tab does not stop the model.",
            serve_asgi,
        )
    apps = list(settings.INSTALLED_APPS)
    if "daphne" in apps and "django.contrib.staticfiles" in apps:
        if apps.index("daphne") > apps.index("django.contrib.staticfiles"):
            yield Finding(
                "warn",
                "asgi",
                "'daphne' comes after 'django.contrib.staticfiles' in INSTALLED_APPS, so "
                "`manage.py runserver` is Django's WSGI server and streams nothing.",
                "Put 'daphne' first in INSTALLED_APPS.",
            )
    elif "daphne" not in apps and settings.DEBUG:
        yield Finding(
            "warn",
            "asgi",
            "'daphne' is not in INSTALLED_APPS: `manage.py runserver` serves WSGI, which "
            "buffers whole answers.",
            "Add 'daphne' first in INSTALLED_APPS (or develop with uvicorn).",
        )


def takes_lean_path(application: object, depth: int = 0) -> bool:
    """Whether ``application`` is, or wraps, a ``with_chatkit`` router: through the wrappers
    sites use (static files handlers, Channels' ``ProtocolTypeRouter``, middleware)."""
    from ..asgi import ChatKitRouter

    if isinstance(application, ChatKitRouter):
        return True
    if depth > 8:
        return False
    inner = [getattr(application, name, None) for name in ("application", "app", "inner")]
    mapping = getattr(application, "application_mapping", None)  # ProtocolTypeRouter
    if isinstance(mapping, dict):
        inner.append(mapping.get("http"))
    return any(takes_lean_path(app, depth + 1) for app in inner if app is not None)


def check_system(options: Options) -> Iterator[Finding]:
    """Django's system checks (all apps): errors fail, warnings warn."""
    found = False
    for message in run_checks(include_deployment_checks=False):
        if message.is_silenced() or message.id in PROVIDER_CHECK_IDS:
            continue
        found = True
        yield Finding(
            "fail" if message.level >= ERROR else "warn",
            "system checks",
            f"{message.id}: {message.msg}",
            message.hint or "See `manage.py check`.",
        )
    if not found:
        yield Finding("ok", "system checks", "Django's system checks report nothing.")
