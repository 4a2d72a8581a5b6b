"""What every ``CHATKIT_BACKEND`` key is declared with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .validators import Validator


@dataclass(frozen=True)
class Setting:
    """One ``CHATKIT_BACKEND`` key: its default, its checks, and how a bad value is reported."""

    default: Any
    check: Validator
    hint: str
    # The system check that reports a bad value: chatkit_backend.E1NN, one per key.
    number: int
    # For dotted-path settings: what the imported object must be (returns what it is not).
    expects: Callable[[Any], str | None] | None = None
    # Turns a valid value into the one type code reads (seconds given as 30 read as 30.0).
    coerce: Callable[[Any], Any] | None = None

    @property
    def check_id(self) -> str:
        return f"chatkit_backend.E{self.number}"
