"""Origins: ``ALLOWED_ORIGINS``, ``ALLOWED_HOSTS``, CSRF and CORS, for the page's origin."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from django.utils.http import is_same_domain

from ..conf import conf
from .findings import Finding, Options

# Headers ChatKit's fetch sends cross-origin (django-cors-headers allows them by default).
CHATKIT_REQUEST_HEADERS = ("authorization", "content-type", "x-csrftoken")


def parse_origin(value: str) -> str:
    """``scheme://host[:port]`` from what a user typed; ``ValueError`` if it is not an origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin like https://chat.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{value!r} is not an origin: give scheme://host[:port] only")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def parse_api_url(value: str) -> str:
    """An absolute http(s) URL; ``ValueError`` if it is not one."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not a URL like https://api.example.com/chatkit/api")
    return value.strip()


def allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:  # what HttpRequest.get_host() allows
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def csrf_trusted(origin: str) -> bool:
    """Whether CSRF_TRUSTED_ORIGINS lets ``origin`` through Django's CSRF origin check (an
    exact entry, or a ``scheme://*.domain`` one, matched as CsrfViewMiddleware matches it)."""
    page = urlsplit(origin)
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        entry = urlsplit(trusted)
        if trusted == origin:
            return True
        if entry.netloc.startswith("*") and entry.scheme == page.scheme:
            if is_same_domain(page.netloc, entry.netloc[1:]):
                return True
    return False


def cors_preflight(origin: str, api_path: str) -> tuple[bool, str]:
    """Run django-cors-headers' middleware on the browser's preflight for the API."""
    from corsheaders.middleware import CorsMiddleware

    request = HttpRequest()
    request.method = "OPTIONS"
    request.path = request.path_info = api_path
    request.META.update(
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=", ".join(CHATKIT_REQUEST_HEADERS),
    )
    response = CorsMiddleware(lambda request: HttpResponse())(request)
    allowed_origin = response.get("access-control-allow-origin")
    if allowed_origin not in (origin, "*"):
        return False, "the preflight answer does not allow this origin"
    allowed_headers = {
        h.strip().lower() for h in response.get("access-control-allow-headers", "").split(",")
    }
    missing = [h for h in CHATKIT_REQUEST_HEADERS if h not in allowed_headers]
    if missing:
        return False, f"the preflight answer does not allow the headers {', '.join(missing)}"
    return True, ""


def check_origin(options: Options) -> Iterator[Finding]:
    if not options.origin:
        yield Finding(
            "skip",
            "origin",
            "No page origin given: pass --origin https://your-site to check ALLOWED_ORIGINS, "
            "ALLOWED_HOSTS, CSRF and CORS for it.",
        )
        return
    origin = options.origin
    page = urlsplit(origin)
    api_path = reverse("chatkit_backend:api")
    api = urlsplit(options.api_url) if options.api_url else page
    api_origin = f"{api.scheme}://{api.netloc}"
    api_path = api.path if options.api_url and api.path not in ("", "/") else api_path
    same_origin = api_origin == origin

    yield allowed_origins_finding(origin)
    yield allowed_hosts_finding(api)
    session_auth = any("SessionAuthentication" in path for path in conf.AUTHENTICATION_CLASSES)
    if session_auth:
        yield from csrf_findings(origin, same_origin)
    yield cors_finding(origin, api_origin, api_path)


def allowed_origins_finding(origin: str) -> Finding:
    allowed = conf.ALLOWED_ORIGINS
    if allowed is None:
        return Finding(
            "ok", "origin", "CHATKIT_BACKEND['ALLOWED_ORIGINS'] does not restrict origins."
        )
    if origin in allowed:
        return Finding("ok", "origin", f"{origin} is in CHATKIT_BACKEND['ALLOWED_ORIGINS'].")
    return Finding(
        "fail",
        "origin",
        f"{origin} is not in CHATKIT_BACKEND['ALLOWED_ORIGINS']: the API answers its "
        "browsers 403 origin_not_allowed.",
        f"Add {origin!r} to CHATKIT_BACKEND['ALLOWED_ORIGINS'].",
    )


def allowed_hosts_finding(api: SplitResult) -> Finding:
    domain, _ = split_domain_port(api.netloc)  # as HttpRequest.get_host() checks it
    if domain and validate_host(domain, allowed_hosts()):
        return Finding("ok", "origin", f"{api.netloc} is in ALLOWED_HOSTS.")
    return Finding(
        "fail",
        "origin",
        f"{api.netloc} is not in ALLOWED_HOSTS: Django answers the API 400 Bad Request.",
        f"Add {domain or api.netloc!r} to ALLOWED_HOSTS.",
    )


def cors_finding(origin: str, api_origin: str, api_path: str) -> Finding:
    if api_origin == origin:
        return Finding("ok", "origin", "The page calls the API on its own origin: no CORS needed.")
    if "corsheaders.middleware.CorsMiddleware" not in settings.MIDDLEWARE:
        return Finding(
            "fail",
            "origin",
            f"The page ({origin}) calls the API on another origin ({api_origin}) but "
            "django-cors-headers' CorsMiddleware is not in MIDDLEWARE: browsers block the answers.",
            "Install django-cors-headers, add its middleware high in MIDDLEWARE and list the "
            "page's origin in CORS_ALLOWED_ORIGINS.",
        )
    allowed_by_cors, why = cors_preflight(origin, api_path)
    if allowed_by_cors:
        return Finding("ok", "origin", f"CORS lets {origin} call {api_origin}{api_path}.")
    return Finding(
        "fail",
        "origin",
        f"CORS refuses {origin} on {api_path}: {why}; browsers block the answers.",
        f"Add {origin!r} to CORS_ALLOWED_ORIGINS (and check that CORS_URLS_REGEX "
        f"matches {api_path}).",
    )


def csrf_findings(origin: str, same_origin: bool) -> Iterator[Finding]:
    if csrf_trusted(origin):
        yield Finding("ok", "origin", f"{origin} is in CSRF_TRUSTED_ORIGINS.")
    elif not same_origin:
        yield Finding(
            "warn",
            "origin",
            f"{origin} is not in CSRF_TRUSTED_ORIGINS: session-cookie requests from it fail "
            "the CSRF check (403). Bearer tokens are not affected.",
            f"Add {origin!r} to CSRF_TRUSTED_ORIGINS if that page uses the session.",
        )
    elif origin.startswith("https://") and not getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        yield Finding(
            "warn",
            "origin",
            f"{origin} is not in CSRF_TRUSTED_ORIGINS and SECURE_PROXY_SSL_HEADER is not set: "
            "if TLS ends at a proxy, Django sees http:// and refuses the session's CSRF check "
            "(403 'Origin checking failed').",
            f"Add {origin!r} to CSRF_TRUSTED_ORIGINS, or set SECURE_PROXY_SSL_HEADER for your "
            "proxy.",
        )
    else:
        yield Finding("ok", "origin", f"{origin} passes Django's CSRF origin check (same origin).")
