"""What a valid value of each setting is: each check returns the problem ("must be ...") or
``None``. Dotted-path settings are also checked, once imported, for the kind of object they
name (``subclass_of``, ``agent_or_factory``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

# What a value is checked with: it returns the problem ("must be ...") or None.
Validator = Callable[[Any], str | None]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(minimum: int, *, optional: bool = False) -> Validator:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if not _is_int(value):
            return f"must be an integer{' or None' if optional else ''}"
        if value < minimum:
            return f"must be at least {minimum}"
        return None

    return check


def seconds(value: Any) -> str | None:
    if not (_is_int(value) or isinstance(value, float)):
        return "must be a number of seconds"
    if value <= 0:
        return "must be more than 0"
    return None


def boolean(*, optional: bool = False) -> Validator:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or (value is None and optional):
            return None
        return f"must be True or False{' (or None)' if optional else ''}"

    return check


def text(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string or None"


def one_of(*choices: str) -> Validator:
    def check(value: Any) -> str | None:
        if value in choices:
            return None
        return f"must be one of: {', '.join(repr(choice) for choice in choices)}"

    return check


def http_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return "must be a URL string or None"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    return None


ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


def origins(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        return "must be a list of origins (or None)"
    for origin in value:
        if not isinstance(origin, str) or not ORIGIN.match(origin):
            return f"holds {origin!r}, which is not an origin such as 'https://chat.example.com'"
    return None


MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def mime_types(value: Any) -> str | None:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        return "must be a list of MIME types"
    for mime_type in value:
        if not isinstance(mime_type, str) or not MIME_TYPE.match(mime_type):
            return f"holds {mime_type!r}, which is not a lower-case MIME type such as 'image/png'"
    return None


THROTTLE_SCOPES = ("turns", "requests")
# DRF's rate form: a count, "/", and a period of which DRF reads the first letter.
RATE = re.compile(r"^\d+/[smhd][a-z]*$")


def throttle_rates(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return "must be a dict such as {'turns': '30/min', 'requests': '600/min'}"
    for scope, rate in value.items():
        if scope not in THROTTLE_SCOPES:
            return f"has the scope {scope!r}; the scopes are {', '.join(THROTTLE_SCOPES)}"
        if rate is not None and not (isinstance(rate, str) and RATE.match(rate)):
            return (
                f"gives {scope!r} the rate {rate!r}; a rate is a count per second, minute, "
                "hour or day, such as '30/min' or '500/day' (or None for no limit)"
            )
    return None


def storage_alias(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return "must be an alias of settings.STORAGES, or None"
    if value not in getattr(django_settings, "STORAGES", {}):
        return f"is {value!r}, which is not an alias in settings.STORAGES"
    return None


def importable(value: Any) -> str | None:
    # What it names is checked when it is imported (Settings.imported); here only its form.
    if isinstance(value, str) and not re.match(r"^[\w.]+\.\w+$", value):
        return f"is {value!r}, which is not a dotted path such as 'myapp.module.name'"
    return None


def importable_list(value: Any) -> str | None:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        return "must be a list of dotted paths"
    for path in value:
        problem = importable(path)
        if problem:
            return problem
    return None


# -- what an imported setting must be ---------------------------------------------------------


def subclass_of(base_path: str) -> Callable[[Any], str | None]:
    def check(obj: Any) -> str | None:
        base = import_string(base_path)
        if isinstance(obj, type) and issubclass(obj, base):
            return None
        return f"is not a subclass of {base_path}"

    return check


def agent_or_factory(obj: Any) -> str | None:
    from agents import Agent

    if isinstance(obj, Agent) or (callable(obj) and not isinstance(obj, type)):
        return None
    return "is neither an agents.Agent nor a callable (context) -> Agent"


def fraction(value: Any) -> str | None:
    """A share strictly between 0 and 1 (0.8 for 80%), or None."""
    if value is None:
        return None
    if not (_is_int(value) or isinstance(value, float)) or not 0 < value < 1:
        return "must be a number between 0 and 1 (0.8 for 80%), or None"
    return None


# The fields of @openai/chatkit's ``ModelOption`` (``composer.models``), and their types.
MODEL_OPTION_FIELDS: dict[str, type] = {
    "id": str,
    "label": str,
    "description": str,
    "disabled": bool,
    "default": bool,
}


def _model_option_problem(option: Any) -> str | None:
    if not isinstance(option, dict):
        return (
            f"holds {option!r}, which is not a dict such as {{'id': 'gpt-4.1', 'label': 'GPT-4.1'}}"
        )
    for key in ("id", "label"):
        if not isinstance(option.get(key), str) or not option[key].strip():
            return f"holds {option!r}, which has no {key!r} string"
    for key, value in option.items():
        if key not in MODEL_OPTION_FIELDS:
            known = ", ".join(MODEL_OPTION_FIELDS)
            return f"holds an option with the key {key!r}; the keys are {known}"
        if not isinstance(value, MODEL_OPTION_FIELDS[key]):
            kind = MODEL_OPTION_FIELDS[key].__name__
            return f"gives {option['id']!r} a {key!r} of {value!r}, not a {kind}"
    return None


def model_choices(value: Any) -> str | None:
    """A list of ``composer.models`` options (``id``, ``label``, optional ``description``,
    ``disabled``, ``default``): unique ids, at most one default. Or None."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        return "must be a list of options such as [{'id': 'gpt-4.1-mini', 'label': 'Fast'}]"
    for option in value:
        problem = _model_option_problem(option)
        if problem:
            return problem
    ids = [option["id"] for option in value]
    if len(set(ids)) != len(ids):
        return "lists a model id twice"
    if sum(1 for option in value if option.get("default")) > 1:
        return "marks more than one option as the default"
    return None


def optional(expects: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """``expects`` for a dotted-path setting that may also be None (off)."""

    def check(obj: Any) -> str | None:
        return None if obj is None else expects(obj)

    return check


def a_callable(obj: Any) -> str | None:
    return None if callable(obj) else "is not callable"
