"""The widget's ``domainKey``: without one the widget stays blank."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from ..conf import conf
from .findings import Finding, Options

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
PLACEHOLDER_KEY = re.compile(r"localhost|placeholder|example|changeme|dummy", re.IGNORECASE)


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
