"""What a check reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail", "skip"]


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
