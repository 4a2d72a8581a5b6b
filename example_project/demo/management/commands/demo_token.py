"""``python manage.py demo_token``: print a JWT access token for the demo user.

For trying the API outside the browser (EXAMPLE ONLY: a real site issues tokens through
``api/token/`` to users who log in)::

    TOKEN=$(python manage.py demo_token)
    curl -N http://127.0.0.1:8000/chatkit/api -H "Authorization: Bearer $TOKEN" \\
      -H "Content-Type: application/json" -d '{"type": "threads.create", "params":
        {"input": {"content": [{"type": "input_text", "text": "Hi"}],
                   "attachments": [], "inference_options": {}}}}'
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from rest_framework_simplejwt.tokens import RefreshToken

from example_project.demo.users import DEMO_USERNAME, get_demo_user


class Command(BaseCommand):
    help = "Create the demo user if needed and print a JWT access token for it."
    requires_system_checks: list[str] = []  # keep `$(manage.py demo_token)` quiet

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--username", default=DEMO_USERNAME, help="The user (created if missing)."
        )
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="Print the refresh token on a second line (for api/token/refresh/).",
        )

    def handle(self, *args: Any, username: str, refresh: bool, **options: Any) -> None:
        token = RefreshToken.for_user(get_demo_user(username))
        # Only the token on stdout, so that TOKEN=$(python manage.py demo_token) works.
        self.stdout.write(str(token.access_token))
        if refresh:
            self.stdout.write(str(token))
