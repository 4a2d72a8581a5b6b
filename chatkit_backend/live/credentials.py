"""Who is on the other end of a socket: its origin, its session cookie, or a SimpleJWT token.

The socket follows the HTTP API's rules. An origin listed in ``ALLOWED_ORIGINS`` (when set),
or else one whose host is in ``ALLOWED_HOSTS``, is the site's own page: its session cookie
counts. An origin in django-cors-headers' ``CORS_ALLOWED_ORIGINS`` may connect too, but only
a token authenticates it (a cookie sent along by a browser is no proof of intent there). Any
other origin is refused (4403): a page on another site cannot ride on the visitor's cookie.
A client that sends no ``Origin`` (not a browser) is treated as the site's own, as the HTTP
API treats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from ..conf import conf
from ..context import Owner

SAME_SITE = "same-site"
CROSS_ORIGIN = "cross-origin"


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def origin_kind(scope: dict[str, Any]) -> str | None:
    """``SAME_SITE``, ``CROSS_ORIGIN`` (token only) or None (refused) for the socket's origin."""
    origin = header(scope, b"origin")
    if origin is None:
        return SAME_SITE
    allowed = conf.ALLOWED_ORIGINS
    if allowed is not None:
        return SAME_SITE if origin in allowed else None
    domain, _port = split_domain_port(urlsplit(origin).netloc.rsplit("@", 1)[-1])
    hosts = settings.ALLOWED_HOSTS or (
        ["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []
    )
    if domain and validate_host(domain, hosts):
        return SAME_SITE
    if origin in getattr(settings, "CORS_ALLOWED_ORIGINS", ()):
        return CROSS_ORIGIN
    return None


@dataclass(frozen=True)
class Credentials:
    owner: Owner
    expires_at: float | None = None  # a token's expiry (Unix time)


def from_session(scope: dict[str, Any]) -> Credentials | None:
    """The session cookie's user, or (``ALLOW_ANONYMOUS``) its anonymous visitor (sync)."""
    cookies = parse_cookie(header(scope, b"cookie") or "")
    key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    # Django's own lookup: the session's backend, its auth hash (a changed password logs
    # the session out), an inactive user refused.
    user = get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]
    if user.is_authenticated:
        return Credentials(Owner(user_id=user.pk))
    session.load()  # a session that does not exist (or expired) loses its key here
    if conf.ALLOW_ANONYMOUS and session.session_key:
        return Credentials(Owner(session_key=session.session_key))
    return None


def from_token(token: Any) -> Credentials | None:
    """The user of a SimpleJWT access token, checked by the site's JWT authentication class
    (signature, algorithm, expiry, token type, an active user); None if it is not valid."""
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

    if not isinstance(token, str) or not token or len(token) > 4096:
        return None
    classes = [
        cls for cls in conf.imported("AUTHENTICATION_CLASSES") if issubclass(cls, JWTAuthentication)
    ]
    if not classes:
        return None  # the site does not accept tokens
    authenticator = classes[0]()
    try:
        validated = authenticator.get_validated_token(token.encode())
        user = authenticator.get_user(validated)
    except (InvalidToken, TokenError, AuthenticationFailed):
        return None
    if user is None or not user.is_authenticated:
        return None
    expiry = validated.get("exp")
    return Credentials(Owner(user_id=user.pk), float(expiry) if expiry else None)


OPERATOR_PERMISSION = "chatkit_backend.reply_thread"


def may_watch(owner: Owner, thread_id: Any) -> bool:
    """Whether the socket's user may watch ``thread_id`` as an operator (sync): an active
    staff member with ``chatkit_backend.reply_thread``, and a thread that exists."""
    from django.contrib.auth import get_user_model

    from .. import models

    if owner.user_id is None or not isinstance(thread_id, str) or len(thread_id) > 64:
        return False
    user = get_user_model().objects.filter(pk=owner.user_id).first()
    if user is None or not (user.is_active and user.is_staff):
        return False
    return (
        user.has_perm(OPERATOR_PERMISSION) and models.Thread.objects.filter(id=thread_id).exists()
    )


def owns(owner: Owner, thread_id: Any) -> bool:
    """Whether ``thread_id`` is one of ``owner``'s threads (sync)."""
    from .. import models

    if not isinstance(thread_id, str) or len(thread_id) > 64:
        return False
    return models.Thread.objects.filter(id=thread_id, **owner.as_filter()).exists()
