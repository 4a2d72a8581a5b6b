"""Export everything one user owns in ChatKit as JSON Lines (a data-portability request)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from chatkit_backend.retention import (
    DEFAULT_BATCH_SIZE,
    Export,
    FileCopier,
    find_user,
    plural,
    printable,
)


def private_file(path: Path) -> IO[str]:
    """A new file only its owner can read: it holds someone's conversations."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return open(descriptor, "w", encoding="utf-8")


class Command(BaseCommand):
    help = (
        "Write everything USERNAME owns in ChatKit as JSON Lines: threads, all items (hidden "
        "ones marked), feedback, usage and an attachment manifest; --files DIR also copies "
        "the attachment files. Works in batches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="USERNAME")
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="Write the JSON Lines here (created readable by its owner only) instead of "
            "standard output.",
        )
        parser.add_argument(
            "--files",
            metavar="DIR",
            help="Copy each attachment's file to DIR/<attachment id>/<name>; the manifest "
            "records the path (relative to DIR) and its SHA-256.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Rows read per query (default: {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be 1 or more.")
        try:
            user = find_user(options["user"])
        except LookupError as error:
            raise CommandError(str(error)) from None
        output = Path(options["output"]) if options["output"] else None
        # The export owns standard output when no file is given; progress then goes to stderr.
        progress = self.stdout if output is not None else self.stderr
        verbosity = options["verbosity"]

        copier = None
        if options["files"]:
            files_dir = Path(options["files"])
            files_dir.mkdir(parents=True, exist_ok=True)
            copier = FileCopier(files_dir)

        def on_page(counts: Counter[str]) -> None:
            if verbosity >= 1:
                progress.write(f"exported so far: {summary(counts)}")

        export = Export(user, options["batch_size"], copy_file=copier, on_page=on_page)
        if verbosity >= 1:
            progress.write(f"Exporting the ChatKit data of user {printable(user.get_username())}")
        if output is None:
            self.write_lines(export, None)
        else:
            # Written beside the target and renamed at the end: a FILE that exists is complete.
            partial = output.with_name(output.name + ".partial")
            try:
                with private_file(partial) as stream:
                    self.write_lines(export, stream)
                partial.replace(output)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        if verbosity >= 1:
            where = f" to {output}" if output is not None else ""
            progress.write(self.style.SUCCESS(f"Exported {summary(export.counts)}{where}."))
        if copier is not None and copier.failures:
            for attachment_id, reason in copier.failures:
                self.stderr.write(f"could not copy the file of {attachment_id}: {reason}")
            raise CommandError(
                f"The export is written, but {len(copier.failures)} attachment file(s) could "
                'not be copied (marked "missing" in the manifest).'
            )

    def write_lines(self, export: Export, stream: IO[str] | None) -> None:
        for record in export.records():
            # ASCII-only JSON (non-ASCII as \u escapes): valid whatever the locale's encoding.
            line = json.dumps(record, cls=DjangoJSONEncoder)
            if stream is None:
                self.stdout.write(line)
            else:
                stream.write(line + "\n")


def summary(counts: Counter[str]) -> str:
    return (
        f"{plural(counts['thread'], 'thread')}, {plural(counts['item'], 'item')}, "
        f"{plural(counts['feedback'], 'rating')}, {plural(counts['usage'], 'usage row')}, "
        f"{plural(counts['attachment'], 'attachment')}"
    )
