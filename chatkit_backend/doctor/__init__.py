"""Diagnostics behind ``manage.py chatkit_doctor``: why is the widget blank, why does chat fail?

Each check looks at one thing a deployment needs, the way the running site will meet it
(importing the ASGI application, asking the provider factory, running the CORS middleware on
a preflight, writing to the attachment storage, reading the migration plan, a round trip
through the channel layer) and reports :class:`Finding` objects: ``ok``, ``warn`` (works, with
a caveat), ``fail`` (broken, with the fix) or ``skip`` (not applicable here).

The doctor runs in the shell's process: it sees that process's environment, which may not be
the server's. Findings say so where it matters.

One module per area: ``asgi`` (serving, Django's system checks), ``provider``, ``origin``
(ALLOWED_ORIGINS, ALLOWED_HOSTS, CSRF, CORS), ``widget`` (the domainKey), ``storage``
(attachment storage, migrations), ``channel_layer``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from .asgi import check_asgi, check_system
from .channel_layer import check_channel_layer
from .findings import Finding, Options, Status
from .origin import check_origin, parse_api_url, parse_origin
from .provider import check_provider
from .storage import check_migrations, check_storage
from .widget import check_domain_key

__all__ = ["CHECKS", "Finding", "Options", "Status", "diagnose", "parse_api_url", "parse_origin"]


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
