"""The ``demo`` user of the example site (EXAMPLE ONLY: a real site has real accounts)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

DEMO_USERNAME = "demo"


def get_demo_user(username: str = DEMO_USERNAME) -> Any:
    """The demo user, created on first use with an unusable password (no one can log in
    with a password; the page's auto-login and ``manage.py demo_token`` are the ways in)."""
    User = get_user_model()
    try:
        return User.objects.get_by_natural_key(username)
    except User.DoesNotExist:
        pass
    user = User(**{User.USERNAME_FIELD: username})
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # two first requests at once: the other one created it
        return User.objects.get_by_natural_key(username)
    return user
