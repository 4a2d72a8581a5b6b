"""The chat page: ChatKit's web component, pointed at this site's ``chatkit_backend`` API."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from chatkit_backend.conf import conf

from .. import ladder
from .users import get_demo_user


@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    # EXAMPLE ONLY (EXAMPLE_AUTO_LOGIN, on by default in DEBUG): log the visitor in as the
    # "demo" user so that the chat works at once. A real site uses its own login.
    if getattr(settings, "EXAMPLE_AUTO_LOGIN", False) and not request.user.is_authenticated:
        login(request, get_demo_user(), backend="django.contrib.auth.backends.ModelBackend")

    step = ladder.step(getattr(settings, "EXAMPLE_AGENT", ""))
    config = {
        "apiUrl": reverse("chatkit_backend:api"),
        "uploadUrl": reverse("chatkit_backend:upload"),
        # The composer's limits, from the backend's own (it enforces them either way).
        "attachments": {
            "enabled": bool(conf.ATTACHMENTS),
            "maxCount": int(conf.ATTACHMENT_MAX_PER_MESSAGE),
            "maxSize": int(conf.ATTACHMENT_MAX_BYTES),
            "accept": {mime_type: [] for mime_type in conf.ATTACHMENT_ALLOWED_TYPES},
        },
        "domainKey": conf.DOMAIN_KEY,
        "csrfCookieName": settings.CSRF_COOKIE_NAME,
        # For when the cookie cannot be read (CSRF_COOKIE_HTTPONLY); after login() rotated it.
        "csrfToken": get_token(request),
        "authenticated": request.user.is_authenticated,
        "loginUrl": f"{reverse(settings.LOGIN_URL)}?next={request.path}",
        # The ladder step that answers (EXAMPLE_AGENT) and what the composer suggests for it.
        "step": step.name,
        "placeholder": step.placeholder,
        "prompts": step.prompts,
    }
    return render(request, "demo/index.html", {"chatkit_config": config})
