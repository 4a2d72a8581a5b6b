"""The app's settings: one dict, ``settings.CHATKIT_BACKEND``, read on every access.

Reading lazily (rather than freezing values into module constants at import time) is what
makes ``override_settings`` and pytest-django's ``settings`` fixture work in users' tests.

Every key is declared here, once (:data:`SETTINGS`): its default, what a valid value is, the
hint that says how to fix a bad one and the id of the system check that reports it. So a
misconfiguration is reported by ``manage.py check`` before the first request, and if a site
runs anyway, ``conf.X`` and :meth:`Settings.imported` raise ``ImproperlyConfigured`` naming
the setting instead of failing somewhere deep inside a request.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .keys import DEFAULTS, ENVIRONMENT_KEYS, SETTINGS, Setting

__all__ = [
    "DEFAULTS",
    "ENVIRONMENT_KEYS",
    "SETTINGS",
    "Setting",
    "SettingError",
    "Settings",
    "conf",
    "import_setting",
]


@lru_cache(maxsize=64)
def import_setting(path: str) -> Any:
    """Import a dotted path once; settings name classes and callables this way."""
    return import_string(path)


class SettingError(ImproperlyConfigured):
    """A ``CHATKIT_BACKEND`` key (or the environment variable behind it) that cannot work."""

    def __init__(self, name: str, label: str, problem: str):
        self.name = name
        self.problem = f"{label} {problem}."
        self.hint = SETTINGS[name].hint
        super().__init__(f"{self.problem} {self.hint}")


class Settings:
    """Attribute access to ``CHATKIT_BACKEND`` with defaults, evaluated on every access."""

    def __getattr__(self, name: str) -> Any:
        """The setting's value, checked: an ``int`` setting is an ``int``, seconds are a
        ``float``, so no caller converts it again."""
        value = self.raw(name)
        setting = SETTINGS[name]
        problem = setting.check(value)
        if problem is not None:
            raise SettingError(name, self.label(name), problem)
        return setting.coerce(value) if setting.coerce is not None else value

    def raw(self, name: str) -> Any:
        """The value in effect (setting, environment or default), unchecked."""
        if name not in SETTINGS:
            raise AttributeError(f"Unknown chatkit_backend setting {name!r}")
        user = self.user_settings()
        if name in user and not (name in ENVIRONMENT_KEYS and user[name] is None):
            return user[name]
        if name in ENVIRONMENT_KEYS:
            value = os.environ.get(name, "").strip()
            return value or None
        return DEFAULTS[name]

    def label(self, name: str) -> str:
        """How messages name the setting: where its value comes from."""
        if name in ENVIRONMENT_KEYS and self.user_settings().get(name) is None:
            return f"The environment variable {name}"
        return f"CHATKIT_BACKEND[{name!r}]"

    def imported(self, name: str) -> Any:
        """The object a dotted-path setting names (a list of them for a list setting).

        Values that are already objects are returned as they are. Raises
        :class:`SettingError` (an ``ImproperlyConfigured``) naming the setting when a path
        cannot be imported or names the wrong kind of object.
        """
        value = getattr(self, name)
        if isinstance(value, list | tuple):
            return [self._import(name, each) for each in value]
        return self._import(name, value)

    def _import(self, name: str, value: Any) -> Any:
        expects = SETTINGS[name].expects
        try:
            obj = import_setting(value) if isinstance(value, str) else value
        except ImportError as error:
            problem = f"names {value!r}, which cannot be imported ({error})"
            raise SettingError(name, self.label(name), problem) from error
        what_it_is_not = expects(obj) if expects is not None else None
        if what_it_is_not is not None:
            problem = f"names {value!r}, which {what_it_is_not}"
            raise SettingError(name, self.label(name), problem)
        return obj

    def error(self, name: str) -> SettingError | None:
        """What is wrong with the setting ``name``, or ``None``; imports dotted paths."""
        try:
            if SETTINGS[name].expects is not None:
                self.imported(name)
            else:
                getattr(self, name)
        except SettingError as error:
            return error
        return None

    def user_settings(self) -> dict[str, Any]:
        value = getattr(django_settings, "CHATKIT_BACKEND", None) or {}
        return value if isinstance(value, dict) else {}

    def user_keys(self) -> set[str]:
        """The keys a site set in ``CHATKIT_BACKEND`` (checked for typos by a system check)."""
        return set(self.user_settings())


conf = Settings()
