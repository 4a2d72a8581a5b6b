"""Diagnostics behind ``manage.py chatkit_doctor``: why is the widget blank, why does chat fail?

Each check looks at one thing a deployment needs, the way the running site will meet it
(importing the ASGI application, asking the provider factory, running the CORS middleware on
a preflight, writing to the attachment storage, reading the migration plan, a round trip
through the channel layer) and reports :class:`Finding` objects: ``ok``, ``warn`` (works, with
a caveat), ``fail`` (broken, with the fix) or ``skip`` (not applicable here).

The doctor runs in the shell's process: it sees that process's environment, which may not be
the server's. Findings say so where it matters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.checks import ERROR, run_checks
from django.core.files.base import ContentFile
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from django.utils.http import is_same_domain
from django.utils.module_loading import import_string

from .attachments import get_storage, storage_name
from .conf import conf
from .providers import ProviderConfig, model_name_for, resolve_provider
from .providers.errors import describe_failure

Status = Literal["ok", "warn", "fail", "skip"]
# Reported by the provider check itself, with more detail.
PROVIDER_CHECK_IDS = {"chatkit_backend.W002", "chatkit_backend.W003"}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
# Headers ChatKit's fetch sends cross-origin (django-cors-headers allows them by default).
CHATKIT_REQUEST_HEADERS = ("authorization", "content-type", "x-csrftoken")
PLACEHOLDER_KEY = re.compile(r"localhost|placeholder|example|changeme|dummy", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: what was seen and, for ``warn`` and ``fail``, what to do."""

    status: Status
    check: str
    message: str
    fix: str = ""


@dataclass(frozen=True)
class Options:
    origin: str | None = None  # the page's origin, scheme://host[:port]
    api_url: str | None = None  # where the page calls the API, if not on the page's origin
    live: bool = False  # make one tiny call to the model provider
    timeout: float = 20.0  # seconds for network checks (the provider, the channel layer)


# -- ASGI ----------------------------------------------------------------------------------


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


# -- the model provider --------------------------------------------------------------------


def check_provider(options: Options) -> Iterator[Finding]:
    config = resolve_provider()
    problems = config.problems()
    environment_note = (
        " (The doctor reads this shell's environment: make sure the server process gets the "
        "same variables.)"
    )
    for problem in problems:
        yield Finding(
            "fail",
            "provider",
            f"The model provider cannot work: {problem}",
            "Set it in CHATKIT_BACKEND or in the environment; see 'Model providers' in the "
            "README." + environment_note,
        )
    if not problems:
        where = config.base_url or "the provider's own endpoint"
        key = f", key from {config.key_setting}" if config.key_setting else ""
        if config.provider == "offline":
            yield Finding(
                "warn",
                "provider",
                "No model provider is configured: the offline demo model answers every chat.",
                "Set OPENAI_API_KEY (or LLM_PROVIDER and its key)." + environment_note,
            )
        else:
            yield Finding(
                "ok",
                "provider",
                f"{config.provider}, model {model_name_for(config)}, {where}{key}.",
            )
    if not options.live:
        return
    if problems:
        yield Finding("skip", "provider", "Live call skipped: fix the configuration first.")
    elif config.provider == "offline":
        yield Finding("skip", "provider", "Live call skipped: the offline model has no server.")
    else:
        yield live_call(config, options.timeout)


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


def redact(text: str, secret: str | None) -> str:
    """``text`` without ``secret`` or any long piece of it (providers quote keys back)."""
    if not secret:
        return text
    text = text.replace(secret, "***")

    def hide(match: re.Match[str]) -> str:
        return "***" if match.group(0) in secret else match.group(0)

    return re.sub(r"[A-Za-z0-9_\-]{8,}", hide, text)


def provider_refusal(error: BaseException) -> str:
    """The provider's own words for a failure: HTTP status, error code and message."""
    import openai

    if isinstance(error, openai.APIStatusError):
        body: Any = error.body
        if isinstance(body, list) and body:  # Gemini answers errors in a list
            body = body[0]
        detail = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(detail, dict):
            code = detail.get("code") or detail.get("status") or detail.get("type")
            message = detail.get("message") or ""
            return f"HTTP {error.status_code} ({code}): {message}".strip()
        return f"HTTP {error.status_code}: {detail or error.message}"
    cause = error.__cause__ or error.__context__
    reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    return f"{type(error).__name__}: {error}{reason}"


def live_call(config: ProviderConfig, timeout: float) -> Finding:
    """One tiny turn through the same model factory and run configuration chat turns use."""
    from agents import Agent, Runner

    from .server import get_server

    config = dataclasses.replace(config, timeout=timeout, max_retries=0)
    agent = Agent(name="chatkit_doctor", instructions="Reply with the single word OK.")
    run_config = get_server().orchestrator.run_config(config)
    model = model_name_for(config)

    async def ping() -> str:
        # Streamed, as chat turns are: the same request, the same parsing of the answer.
        result = Runner.run_streamed(agent, "Say OK.", run_config=run_config, max_turns=1)
        async for _ in result.stream_events():
            pass
        return str(result.final_output)

    try:
        answer = async_to_sync(ping)()
    except Exception as error:
        hint = describe_failure(error, config) or "See the provider's message."
        return Finding(
            "fail",
            "provider",
            f"Live call to {config.provider} (model {model}) refused: "
            + redact(provider_refusal(error), config.api_key),
            redact(hint, config.api_key),
        )
    return Finding(
        "ok",
        "provider",
        f"Live call to {config.provider} (model {model}) answered: "
        f"{redact(answer, config.api_key)[:60]!r}.",
    )


# -- origins: ALLOWED_ORIGINS, ALLOWED_HOSTS, CSRF, CORS -----------------------------------


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

    allowed = conf.ALLOWED_ORIGINS
    if allowed is None:
        yield Finding(
            "ok", "origin", "CHATKIT_BACKEND['ALLOWED_ORIGINS'] does not restrict origins."
        )
    elif origin in allowed:
        yield Finding("ok", "origin", f"{origin} is in CHATKIT_BACKEND['ALLOWED_ORIGINS'].")
    else:
        yield Finding(
            "fail",
            "origin",
            f"{origin} is not in CHATKIT_BACKEND['ALLOWED_ORIGINS']: the API answers its "
            "browsers 403 origin_not_allowed.",
            f"Add {origin!r} to CHATKIT_BACKEND['ALLOWED_ORIGINS'].",
        )

    domain, _ = split_domain_port(api.netloc)  # as HttpRequest.get_host() checks it
    if domain and validate_host(domain, allowed_hosts()):
        yield Finding("ok", "origin", f"{api.netloc} is in ALLOWED_HOSTS.")
    else:
        yield Finding(
            "fail",
            "origin",
            f"{api.netloc} is not in ALLOWED_HOSTS: Django answers the API 400 Bad Request.",
            f"Add {domain or api.netloc!r} to ALLOWED_HOSTS.",
        )

    session_auth = any("SessionAuthentication" in path for path in conf.AUTHENTICATION_CLASSES)
    if session_auth:
        yield from csrf_findings(origin, same_origin)

    if same_origin:
        yield Finding("ok", "origin", "The page calls the API on its own origin: no CORS needed.")
    elif "corsheaders.middleware.CorsMiddleware" not in settings.MIDDLEWARE:
        yield Finding(
            "fail",
            "origin",
            f"The page ({origin}) calls the API on another origin ({api_origin}) but "
            "django-cors-headers' CorsMiddleware is not in MIDDLEWARE: browsers block the answers.",
            "Install django-cors-headers, add its middleware high in MIDDLEWARE and list the "
            "page's origin in CORS_ALLOWED_ORIGINS.",
        )
    else:
        allowed_by_cors, why = cors_preflight(origin, api_path)
        if allowed_by_cors:
            yield Finding("ok", "origin", f"CORS lets {origin} call {api_origin}{api_path}.")
        else:
            yield Finding(
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


# -- the widget's domain key ---------------------------------------------------------------


def is_local(host: str) -> bool:
    return host in LOCAL_HOSTS or host.endswith(".localhost") or host.startswith("127.")


def check_domain_key(options: Options) -> Iterator[Finding]:
    key = (conf.DOMAIN_KEY or "").strip()
    host = urlsplit(options.origin).hostname if options.origin else None
    if not key:
        yield Finding(
            "fail",
            "domain key",
            "No domainKey: CHATKIT_BACKEND['DOMAIN_KEY'] is not set, and without a domainKey "
            "the ChatKit widget stays blank.",
            "Set CHATKIT_BACKEND['DOMAIN_KEY'] and give it to the widget as api.domainKey "
            "(on localhost any non-empty placeholder works).",
        )
        return
    if host is None:
        yield Finding(
            "ok", "domain key", "A domainKey is set (pass --origin to check it fits the host)."
        )
    elif is_local(host):
        yield Finding("ok", "domain key", f"A domainKey is set; on {host} any key works.")
    elif PLACEHOLDER_KEY.search(key):
        yield Finding(
            "fail",
            "domain key",
            f"The domainKey looks like a placeholder, and {host} is not localhost: the widget "
            "stays blank on a host that is not on your OpenAI domain allowlist.",
            f"Add {host} to your OpenAI organization's domain allowlist and set "
            "CHATKIT_BACKEND['DOMAIN_KEY'] to the key it gives.",
        )
    else:
        yield Finding(
            "ok",
            "domain key",
            f"A domainKey is set for {host}. The doctor cannot see OpenAI's allowlist: if the "
            f"widget stays blank, check that {host} is on it with this key.",
        )


# -- attachment storage --------------------------------------------------------------------


def check_storage(options: Options) -> Iterator[Finding]:
    if not conf.ATTACHMENTS:
        yield Finding("skip", "storage", "Attachments are off (CHATKIT_BACKEND['ATTACHMENTS']).")
        return
    # In the folder attachments go to, which is what must be writable; no attachment id
    # looks like this name.
    name = storage_name(f"doctor-probe-{secrets.token_hex(8)}")
    content = b"chatkit_doctor probe\n"
    try:
        alias = conf.ATTACHMENT_STORAGE  # raises for an alias STORAGES does not have
        storage = get_storage()
    except Exception as error:
        yield Finding(
            "fail",
            "storage",
            f"The attachment storage cannot be loaded: {type(error).__name__}: {error}",
            "Point CHATKIT_BACKEND['ATTACHMENT_STORAGE'] at an alias in settings.STORAGES.",
        )
        return
    where = f"STORAGES[{alias!r}]" if alias else "the default storage"
    try:
        saved = storage.save(name, ContentFile(content))
        try:
            with storage.open(saved, "rb") as handle:
                read_back = handle.read()
        finally:
            storage.delete(saved)
        if read_back != content:
            raise OSError("the probe file read back differs from what was written")
        if storage.exists(saved):
            raise OSError("the probe file is still there after deleting it")
    except Exception as error:
        location = getattr(storage, "location", None)
        fix = (
            f"Make {location} writable by the user the server runs as (the doctor ran as "
            "this shell's user)."
            if location
            else f"Check {where}'s settings and credentials (bucket, keys, permissions)."
        )
        yield Finding(
            "fail",
            "storage",
            f"Attachments cannot be stored in {where}: {type(error).__name__}: {error}",
            fix,
        )
        return
    yield Finding(
        "ok",
        "storage",
        f"Wrote, read and deleted a probe file in {where} ({type(storage).__name__}).",
    )


# -- migrations ----------------------------------------------------------------------------


def check_migrations(options: Options) -> Iterator[Finding]:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:
        yield Finding(
            "fail",
            "migrations",
            f"Cannot read the database: {type(error).__name__}: {error}",
            "Check DATABASES (or DATABASE_URL) and that the database server is reachable.",
        )
        return
    pending = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    if pending:
        shown = ", ".join(pending[:8]) + (
            f" and {len(pending) - 8} more" if len(pending) > 8 else ""
        )
        yield Finding(
            "fail",
            "migrations",
            f"{len(pending)} migration(s) not applied: {shown}.",
            "Run `python manage.py migrate`.",
        )
    else:
        yield Finding("ok", "migrations", "All migrations are applied.")


# -- the channel layer ---------------------------------------------------------------------


def check_channel_layer(options: Options) -> Iterator[Finding]:
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    if "default" not in layers:
        yield Finding(
            "skip",
            "channel layer",
            "No CHANNEL_LAYERS['default']: nothing to check (live updates over WebSockets "
            "need one).",
        )
        return
    backend = layers["default"].get("BACKEND", "")
    fix = (
        "Check CHANNEL_LAYERS['default'] (for channels_redis: REDIS_URL / its hosts) and that "
        "the server it names is running and reachable from here."
    )
    try:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            raise RuntimeError("get_channel_layer() returned None")
        async_to_sync(round_trip)(layer, options.timeout)
    except Exception as error:
        yield Finding(
            "fail",
            "channel layer",
            f"A message sent through {backend} did not come back: {type(error).__name__}: {error}",
            fix,
        )
        return
    if backend.endswith("InMemoryChannelLayer"):
        yield Finding(
            "ok",
            "channel layer",
            "In-memory layer: messages reach only the process that sent them. Fine with one "
            "server process; with several, use channels_redis.",
        )
    else:
        yield Finding("ok", "channel layer", f"A message went through {backend} and came back.")
    yield from redis_timeout_findings(backend, layers["default"].get("CONFIG", {}))


async def round_trip(layer: Any, seconds: float) -> None:
    """Send a probe to a new channel and receive it back, within ``seconds``."""
    probe = secrets.token_hex(8)
    async with asyncio.timeout(seconds):
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "chatkit.doctor", "probe": probe})
        message = await layer.receive(channel)
    if message.get("probe") != probe:
        raise RuntimeError(f"received {message!r} instead of the probe")


def redis_timeout_findings(backend: str, config: dict[str, Any]) -> Iterator[Finding]:
    """channels-redis with redis-py 8 drops idle sockets unless ``socket_timeout`` is None."""
    if "channels_redis" not in backend:
        return
    try:
        import redis
    except ImportError:
        return
    if int(str(redis.__version__).split(".")[0]) < 8:
        return
    plain = [
        host
        for host in config.get("hosts", [])
        if not (
            isinstance(host, dict) and "socket_timeout" in host and host["socket_timeout"] is None
        )
    ]
    if plain:
        yield Finding(
            "warn",
            "channel layer",
            "With redis-py 8, channels-redis hosts given without socket_timeout=None time out "
            "idle reads after 5 s: idle live-update sockets close every few seconds.",
            "Give each host as {'address': REDIS_URL, 'socket_timeout': None}.",
        )


CHECKS: dict[str, Callable[[Options], Iterable[Finding]]] = {
    "asgi": check_asgi,
    "provider": check_provider,
    "system checks": check_system,
    "origin": check_origin,
    "domain key": check_domain_key,
    "storage": check_storage,
    "migrations": check_migrations,
    "channel layer": check_channel_layer,
}


def diagnose(options: Options) -> Iterator[Finding]:
    """Every check's findings; a check that crashes is reported, and the others still run."""
    for name, check in CHECKS.items():
        try:
            yield from check(options)
        except Exception as error:
            yield Finding(
                "fail",
                name,
                f"The check itself failed: {type(error).__name__}: {error}",
                "This is likely a configuration problem in its own right; `manage.py check` "
                "may say more.",
            )
