"""What the console's template needs to know about this site, read per request."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.urls import reverse

from ..conf import conf


def console_settings(request: HttpRequest) -> dict[str, Any]:
    """The endpoints, the CSRF token and the attachment limits, for the template.

    The token is rendered into the page (rather than read from the cookie by the script) so
    the console also works with ``CSRF_COOKIE_HTTPONLY`` and ``CSRF_USE_SESSIONS``.
    """
    return {
        "api_url": reverse("chatkit_backend:api"),
        "upload_url": reverse("chatkit_backend:upload"),
        "csrf_token": get_token(request),
        "attachments": conf.ATTACHMENTS,
        "accept": ",".join(conf.ATTACHMENT_ALLOWED_TYPES),
        "max_bytes": conf.ATTACHMENT_MAX_BYTES,
    }
