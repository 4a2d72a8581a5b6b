"""Why is the widget blank, why does chat fail? Check a deployment and print a fix per failure."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatkit_backend.doctor import Finding, Options, diagnose, parse_api_url, parse_origin

LABELS = {"ok": "OK", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


class Command(BaseCommand):
    help = (
        "Check what a ChatKit deployment needs (ASGI, the model provider, the page's origin "
        "against CSRF/CORS/ALLOWED_ORIGINS, the widget's domainKey, attachment storage, "
        "migrations, the channel layer) and print a fix for each problem. Exits 1 when "
        "something is broken."
    )
    # The checks need the database and the settings as the server sees them, not a fresh
    # round of system checks before they start (one of them reports those itself).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--origin",
            metavar="URL",
            help="The origin of the page that embeds the widget, e.g. https://chat.example.com.",
        )
        parser.add_argument(
            "--api-url",
            metavar="URL",
            help="Where that page calls the API, if it is not on the page's own origin "
            "(e.g. https://api.example.com/chatkit/api).",
        )
        parser.add_argument(
            "--live",
            action="store_true",
            help="Make one tiny call to the model provider and report its exact answer.",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=20.0,
            metavar="SECONDS",
            help="How long the live call and the channel layer round trip may take (default: 20).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            origin = parse_origin(options["origin"]) if options["origin"] else None
            api_url = parse_api_url(options["api_url"]) if options["api_url"] else None
        except ValueError as error:
            raise CommandError(str(error)) from None
        findings = diagnose(
            Options(
                origin=origin,
                api_url=api_url,
                live=options["live"],
                timeout=options["timeout"],
            )
        )
        counts: Counter[str] = Counter()
        for finding in findings:
            counts[finding.status] += 1
            self.show(finding)
        summary = (
            f"{counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failure(s), "
            f"{counts['skip']} skipped."
        )
        if counts["fail"]:
            raise CommandError(f"Something is broken: {summary}", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"Nothing is broken: {summary}"))

    def show(self, finding: Finding) -> None:
        style = {
            "ok": self.style.SUCCESS,
            "warn": self.style.WARNING,
            "fail": self.style.ERROR,
            "skip": self.style.NOTICE,
        }[finding.status]
        label = style(f"{LABELS[finding.status]:<4}")
        self.stdout.write(f"{label}  {finding.check:<13}  {finding.message}")
        if finding.fix and finding.status in ("warn", "fail"):
            self.stdout.write(f"{'':<4}  {'':<13}  fix: {finding.fix}")
