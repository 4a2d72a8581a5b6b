"""``chatkit_purge`` and ``chatkit_export``: retention and data rights, as an operator runs them.

The data is made through the protocol (real turns with a scripted model, real uploads into a
media directory of the test's own), then aged by moving ``Thread.updated_at`` back, the one
thing a test cannot wait for.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
from datetime import datetime, timedelta
from typing import Any

import pytest
from agents.testing import assistant_message
from agents.usage import Usage
from asgiref.sync import async_to_sync
from chatkit.types import Attachment, HiddenContextItem, ThreadItem
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from pydantic import TypeAdapter

from chatkit_backend import models
from chatkit_backend.retention import purge
from chatkit_backend.testing import ChatKitClient
from chatkit_backend.threads import append_item
from tests.support.files import PNG, stored_files, upload
from tests.support.queries import captured_statements

pytestmark = pytest.mark.django_db(transaction=True)
ATTACHMENT = TypeAdapter(Attachment)
ITEM = TypeAdapter(ThreadItem)
LONG_AGO = timedelta(days=100)


# -- the people and their data ------------------------------------------------------------


class Person:
    """A user with a logged-in browser (for uploads) and a protocol client."""

    def __init__(self, user: Any):
        self.user = user
        self.browser = Client()
        self.browser.force_login(user)
        self.chatkit = ChatKitClient(self.browser)

    def upload(self, name: str, content: bytes, content_type: str) -> str:
        response = upload(self.browser, name, content, content_type)
        assert response.status_code == 200, response.content
        return ATTACHMENT.validate_json(response.content).id

    def chat(self, model: Any, text: str, attachments: tuple[str, ...] = ()) -> str:
        """A new thread with one turn (answered by ``model``); returns its id."""
        model.enqueue([assistant_message(f"Answer to {text}")])
        return self.chatkit.create_thread(text, attachments).thread_id


@pytest.fixture
def model(scripted_model):
    # Each turn reports usage, so the orchestrator keeps a TurnUsage row for it.
    scripted_model.set_default_usage(
        Usage(requests=1, input_tokens=10, output_tokens=5, total_tokens=15)
    )
    return scripted_model


@pytest.fixture
def alice(django_user_model) -> Person:
    return Person(django_user_model.objects.create_user("alice", password="pw"))


@pytest.fixture
def bob(django_user_model) -> Person:
    return Person(django_user_model.objects.create_user("bob", password="pw"))


def age(thread_id: str, by: timedelta = LONG_AGO) -> None:
    """Pretend nothing happened in the thread for ``by``."""
    models.Thread.objects.filter(id=thread_id).update(updated_at=timezone.now() - by)


def snapshot(user: Any) -> dict[str, Any]:
    """Everything stored for ``user``, to compare before and after."""
    threads = models.Thread.objects.filter(owner=user)
    return {
        "threads": sorted(threads.values_list("id", "title", "updated_at")),
        "items": sorted(
            models.ThreadItem.objects.filter(thread__owner=user).values_list(
                "thread_id", "item_id", "data", "feedback"
            )
        ),
        "attachments": sorted(
            models.Attachment.objects.filter(owner=user).values_list("id", "thread_id", "file_name")
        ),
        "usage": sorted(
            models.TurnUsage.objects.filter(owner=user).values_list(
                "id", "thread_id", "total_tokens"
            )
        ),
    }


def run(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def reads_of_chatkit_rows(statements: list[str]) -> list[str]:
    return [
        sql
        for sql in statements
        if sql.lstrip().upper().startswith("SELECT") and "chatkit_backend_" in sql
    ]


def rows_read_at_most(sql: str) -> int | None:
    """How many rows this SELECT can return at most, if it says: its LIMIT, or its longest
    ``IN (...)`` list of parameters (the page of keys it was asked about)."""
    limit = re.search(r"\bLIMIT (\d+)", sql)
    if limit:
        return int(limit.group(1))
    lists = [group.count("%s") for group in re.findall(r"\bIN \(((?:%s, )*%s)\)", sql)]
    return max(lists) if lists else None


# -- chatkit_purge --older-than -----------------------------------------------------------


def test_without_retention_days_the_purge_refuses_to_guess(alice, model, media):
    thread_id = alice.chat(model, "keep me")
    age(thread_id, timedelta(days=3650))
    with pytest.raises(CommandError, match=r"RETENTION_DAYS.*keep everything.*--older-than"):
        run("chatkit_purge")
    assert models.Thread.objects.filter(id=thread_id).exists()


@pytest.mark.parametrize("days", ["0", "-3", "1.5", "soon"])
def test_older_than_must_be_whole_positive_days(days):
    with pytest.raises(CommandError, match="whole number of days"):
        run("chatkit_purge", "--older-than", days)


def test_retention_days_setting_is_the_default(alice, model, media, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "RETENTION_DAYS": 30}
    old, recent = alice.chat(model, "old"), alice.chat(model, "recent")
    age(old, timedelta(days=31))
    age(recent, timedelta(days=29))
    output = run("chatkit_purge")
    assert "no activity for 30 days" in output
    assert set(models.Thread.objects.values_list("id", flat=True)) == {recent}


def test_older_than_dry_run_lists_and_real_run_deletes(alice, bob, model, media):
    photo = alice.upload("cat.png", PNG, "image/png")
    old = alice.chat(model, "old with a photo", (photo,))
    model.enqueue([assistant_message("second")])
    alice.chatkit.send(old, "and a second turn")
    bobs_old = bob.chat(model, "bob's old one")
    recent_note = alice.upload("notes.txt", b"recent", "text/plain")
    recent = alice.chat(model, "recent", (recent_note,))
    forgotten = alice.upload("forgotten.txt", b"never sent", "text/plain")  # never attached
    fresh_upload = alice.upload("fresh.txt", b"just now", "text/plain")
    for thread_id in (old, bobs_old):
        age(thread_id)
    long_ago = timezone.now() - LONG_AGO
    models.Attachment.objects.filter(id=forgotten).update(created_at=long_ago)
    # Usage of a thread deleted long ago by its owner (kept for budgets, then outlived them).
    orphan = models.TurnUsage.objects.create(owner=alice.user, provider="offline", total_tokens=7)
    models.TurnUsage.objects.filter(id=orphan.id).update(created_at=long_ago)

    before = {person: snapshot(person.user) for person in (alice, bob)}
    files_before = stored_files(media)
    dry = run("chatkit_purge", "--older-than", "90", "--dry-run")

    # The dry run names each thread that would go, with what is in it, and changes nothing.
    assert re.search(
        rf"would delete thread {old} .*\(alice, .*\): 4 items, 1 attachment "
        r"\(1 file\), 2 usage rows",
        dry,
    )
    assert re.search(rf"would delete thread {bobs_old} .*\(bob, .*\): 2 items", dry)
    assert recent not in dry
    assert re.search(rf'would delete attachment {forgotten} "forgotten.txt"', dry)
    assert fresh_upload not in dry
    summary = "2 threads, 6 items, 2 attachments (2 files), 4 usage rows"
    assert f"Would delete {summary}." in dry
    assert {person: snapshot(person.user) for person in (alice, bob)} == before
    assert stored_files(media) == files_before

    real = run("chatkit_purge", "--older-than", "90")
    assert f"Deleted {summary}." in real
    assert "would" not in real
    assert set(models.Thread.objects.values_list("id", flat=True)) == {recent}
    assert not models.ThreadItem.objects.filter(thread_id__in=[old, bobs_old]).exists()
    assert set(models.Attachment.objects.values_list("id", flat=True)) == {
        recent_note,
        fresh_upload,
    }
    assert sorted(stored_files(media)) == sorted([recent_note, fresh_upload])
    # What is left is exactly what was not old: the recent thread, whole.
    assert set(models.TurnUsage.objects.values_list("thread_id", flat=True)) == {recent}
    assert [row for row in before[alice]["items"] if row[0] == recent] == snapshot(alice.user)[
        "items"
    ]


def test_a_thread_with_recent_activity_is_kept(alice, model, media):
    thread_id = alice.chat(model, "old")
    age(thread_id)
    model.enqueue([assistant_message("back again")])
    alice.chatkit.send(thread_id, "I am back")  # activity moves updated_at to now
    run("chatkit_purge", "--older-than", "90")
    assert models.Thread.objects.filter(id=thread_id).exists()


def test_a_thread_that_comes_back_to_life_during_the_purge_is_kept(
    alice, model, media, monkeypatch
):
    first, second = alice.chat(model, "first"), alice.chat(model, "second")
    age(first)
    age(second)
    real_pages = purge.pages

    def pages_then_a_message_arrives(queryset, size, keys=("pk",)):
        # Between reading a page of thread ids and deleting them, the user writes in one.
        for page in real_pages(queryset, size, keys):
            if queryset.model is models.Thread:
                models.Thread.objects.filter(id=second).update(updated_at=timezone.now())
            yield page

    monkeypatch.setattr(purge, "pages", pages_then_a_message_arrives)
    output = run("chatkit_purge", "--older-than", "90")
    assert "kept 1 thread active again meanwhile" in output
    assert "Deleted 1 thread, 2 items" in output
    assert list(models.Thread.objects.values_list("id", flat=True)) == [second]
    assert models.ThreadItem.objects.filter(thread_id=second).count() == 2


def test_titles_cannot_drive_the_operators_terminal(alice, model, media):
    thread_id = alice.chat(model, "hello")
    alice.chatkit.update_thread(thread_id, "\x1b[2J\x1b[31mevil\r\nfake line")
    age(thread_id)
    output = run("chatkit_purge", "--older-than", "90", "--dry-run")
    line = next(line for line in output.splitlines() if thread_id in line)
    assert "\x1b" not in output and "\r" not in output
    assert '"[2J [31mevil fake line"' in line


# -- chatkit_purge --user ------------------------------------------------------------------


def test_purge_user_dry_run_then_erases_only_that_user(alice, bob, model, media):
    photo = alice.upload("cat.png", PNG, "image/png")
    first = alice.chat(model, "first", (photo,))
    second = alice.chat(model, "second")
    alice.upload("unsent.txt", b"draft", "text/plain")  # never attached to a message
    alice.chatkit.delete_thread(second)  # its usage row stays, without a thread
    bobs_photo = bob.upload("dog.png", PNG, "image/png")
    bob.chat(model, "bob's", (bobs_photo,))
    bob.upload("bobs-unsent.txt", b"draft", "text/plain")

    bobs_before = snapshot(bob.user)
    alices_before = snapshot(alice.user)
    assert len(alices_before["usage"]) == 2 and len(alices_before["attachments"]) == 2
    dry = run("chatkit_purge", "--user", "alice", "--dry-run")
    assert re.search(rf"would delete thread {first} .*\(alice, .*\): 2 items, 1 attachment", dry)
    assert "unsent.txt" in dry and "bob" not in dry
    assert "Would delete 1 thread, 2 items, 2 attachments (2 files), 2 usage rows." in dry
    assert snapshot(alice.user) == alices_before

    real = run("chatkit_purge", "--user", "alice")
    assert "Deleted 1 thread, 2 items, 2 attachments (2 files), 2 usage rows." in real
    assert snapshot(alice.user) == {"threads": [], "items": [], "attachments": [], "usage": []}
    assert snapshot(bob.user) == bobs_before
    assert sorted(stored_files(media)) == sorted(row[0] for row in bobs_before["attachments"])
    # The account itself stays: the site owns it, and erases it its own way.
    assert type(alice.user).objects.filter(username="alice").exists()


def test_purge_unknown_user_is_an_error(alice, model, media):
    alice.chat(model, "mine")
    with pytest.raises(CommandError, match="No user with username 'nobody'"):
        run("chatkit_purge", "--user", "nobody")
    assert models.Thread.objects.count() == 1


def test_older_than_and_user_do_not_mix():
    with pytest.raises(CommandError):
        run("chatkit_purge", "--older-than", "5", "--user", "alice")


def test_purge_works_in_bounded_batches(alice, bob, model, media, monkeypatch):
    threads = [
        alice.chat(model, f"thread {n}", (alice.upload(f"{n}.txt", b"x", "text/plain"),))
        for n in range(5)
    ]
    for thread_id in threads:
        age(thread_id)
    bobs = bob.chat(model, "bob keeps this")

    with captured_statements(monkeypatch) as statements:
        output = run("chatkit_purge", "--older-than", "90", "--batch-size", "2")
    assert "Deleted 5 threads, 10 items, 5 attachments (5 files), 5 usage rows." in output
    # Three batches of at most two threads, each reported as it commits.
    assert re.findall(r"batch: (\d) threads? deleted \((\d) so far\)", output) == [
        ("2", "2"),
        ("2", "4"),
        ("1", "5"),
    ]
    reads = reads_of_chatkit_rows(statements)
    unbounded = [sql for sql in reads if (rows_read_at_most(sql) or 99) > 2]
    assert unbounded == [], "every read of ChatKit rows asks for two rows at most"
    thread_pages = [sql for sql in reads if "LIMIT 2" in sql and "chatkit_backend_thread" in sql]
    assert len(thread_pages) >= 3
    assert set(models.Thread.objects.values_list("id", flat=True)) == {bobs}
    assert stored_files(media) == []


# -- chatkit_export ------------------------------------------------------------------------


def read_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def alices_data(alice, bob, model, media):
    """Two threads of Alice's (a photo, a text file, feedback, a hidden item, a rename),
    an upload she never sent, and Bob's thread beside them."""
    photo = alice.upload("cat.png", PNG, "image/png")
    notes = alice.upload("notes.txt", "Grüße\n".encode(), "text/plain")
    first = alice.chat(model, "Look at this", (photo, notes))
    model.enqueue([assistant_message("Second answer")])
    alice.chatkit.send(first, "And again")
    answer = alice.chatkit.list_items(first, order="asc").data[1]
    alice.chatkit.feedback(first, [answer.id], "negative")
    hidden = HiddenContextItem(
        id="hc_test_1", thread_id=first, created_at=datetime.now(), content={"note": "secret"}
    )
    async_to_sync(append_item)(first, hidden)
    second = alice.chat(model, "Another subject")
    alice.chatkit.update_thread(second, "Renamed")
    unsent = alice.upload("draft.txt", b"not sent", "text/plain")
    bob.chat(model, "Bob's private thread", (bob.upload("bob.txt", b"bob", "text/plain"),))
    return {
        "threads": [first, second],
        "photo": photo,
        "notes": notes,
        "unsent": unsent,
        "answer": answer.id,
        "hidden": hidden.id,
    }


def test_export_writes_everything_the_user_owns(alice, alices_data, tmp_path, media):
    output = tmp_path / "alice.jsonl"
    files = tmp_path / "files"
    progress = run(
        "chatkit_export", "--user", "alice", "--output", str(output), "--files", str(files)
    )
    records = read_jsonl(output.read_text())

    assert records[0]["type"] == "export" and records[0]["user"]["username"] == "alice"
    assert records[-1]["type"] == "end"
    kinds = [record["type"] for record in records[1:-1]]
    assert records[-1]["counts"] == {kind: kinds.count(kind) for kind in set(kinds)}
    assert "Bob" not in output.read_text() and "bob.txt" not in output.read_text()

    threads = {r["id"]: r for r in records if r["type"] == "thread"}
    assert set(threads) == set(alices_data["threads"])
    assert threads[alices_data["threads"][1]]["title"] == "Renamed"

    # Each thread is followed by its items, in the order the widget shows them; every item,
    # hidden ones too, parses as chatkit's own ThreadItem.
    for thread_id in alices_data["threads"]:
        start = records.index(threads[thread_id])
        following = []
        for record in records[start + 1 :]:
            if record["type"] not in ("item", "feedback"):
                break
            following.append(record)
        items = [r for r in following if r["type"] == "item"]
        assert all(r["thread_id"] == thread_id for r in following)
        visible = [r["id"] for r in items if not r["hidden"]]
        assert visible == [
            item.id for item in alice.chatkit.list_items(thread_id, order="asc").data
        ]
        for record in items:
            assert ITEM.validate_python(record["data"]).id == record["id"]
    hidden = [r for r in records if r["type"] == "item" and r["hidden"]]
    assert [r["id"] for r in hidden] == [alices_data["hidden"]]
    assert hidden[0]["data"]["content"] == {"note": "secret"}

    feedback = [r for r in records if r["type"] == "feedback"]
    assert [(r["item_id"], r["kind"]) for r in feedback] == [(alices_data["answer"], "negative")]

    usage = [r for r in records if r["type"] == "usage"]
    assert len(usage) == 3 and {r["total_tokens"] for r in usage} == {15}

    # The manifest: every attachment, attached or not; the files copied beside the export.
    manifest = {r["id"]: r for r in records if r["type"] == "attachment"}
    assert set(manifest) == {alices_data["photo"], alices_data["notes"], alices_data["unsent"]}
    assert manifest[alices_data["unsent"]]["thread_id"] is None
    photo = manifest[alices_data["photo"]]
    assert photo["file"] == f"{alices_data['photo']}/cat.png"
    assert (files / photo["file"]).read_bytes() == PNG
    assert photo["sha256"] == hashlib.sha256(PNG).hexdigest()
    notes = manifest[alices_data["notes"]]
    assert (files / notes["file"]).read_text(encoding="utf-8") == "Grüße\n"
    assert "exported so far:" in progress and f"to {output}" in progress

    # Written for its owner only: it holds someone's conversations.
    assert stat.S_IMODE(os.stat(output).st_mode) == 0o600
    assert not (tmp_path / "alice.jsonl.partial").exists()


def test_export_to_standard_output_is_pure_json_lines(alice, alices_data):
    out, err = io.StringIO(), io.StringIO()
    call_command("chatkit_export", "--user", "alice", stdout=out, stderr=err)
    records = read_jsonl(out.getvalue())  # every line parses: progress went to stderr
    assert records[0]["type"] == "export" and records[-1]["type"] == "end"
    assert "exported so far" in err.getvalue()
    # Without --files the manifest says what is stored, and copies nothing.
    manifest = [r for r in records if r["type"] == "attachment"]
    assert all(r["stored"] and r["file"] is None for r in manifest)


def test_export_reports_files_it_could_not_copy(alice, alices_data, tmp_path, media):
    (media / "chatkit" / "attachments" / alices_data["photo"]).unlink()
    output = tmp_path / "alice.jsonl"
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 attachment file"):
        call_command(
            "chatkit_export",
            "--user",
            "alice",
            "--output",
            str(output),
            "--files",
            str(tmp_path / "files"),
            stdout=io.StringIO(),
            stderr=err,
        )
    assert f"could not copy the file of {alices_data['photo']}" in err.getvalue()
    manifest = {r["id"]: r for r in read_jsonl(output.read_text()) if r["type"] == "attachment"}
    assert manifest[alices_data["photo"]]["missing"] is True
    assert manifest[alices_data["notes"]]["file"]


def test_export_unknown_user_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No user"):
        run("chatkit_export", "--user", "nobody", "--output", str(tmp_path / "x.jsonl"))
    assert not (tmp_path / "x.jsonl").exists()


def test_export_works_in_bounded_batches(alice, model, media, tmp_path, monkeypatch):
    for n in range(5):
        thread_id = alice.chat(
            model, f"thread {n}", (alice.upload(f"{n}.txt", b"x", "text/plain"),)
        )
        model.enqueue([assistant_message("more")])
        alice.chatkit.send(thread_id, "more")
    output = tmp_path / "alice.jsonl"

    with captured_statements(monkeypatch) as statements:
        run("chatkit_export", "--user", "alice", "--output", str(output), "--batch-size", "2")
    counts = read_jsonl(output.read_text())[-1]["counts"]
    assert counts == {"thread": 5, "item": 20, "usage": 10, "attachment": 5}
    reads = reads_of_chatkit_rows(statements)
    assert reads and all(rows_read_at_most(sql) == 2 for sql in reads), [
        sql for sql in reads if rows_read_at_most(sql) != 2
    ]
    # 20 items two at a time: at least ten pages of items.
    item_pages = [sql for sql in reads if 'FROM "chatkit_backend_threaditem"' in sql]
    assert len(item_pages) >= 10


def test_purge_user_erases_their_daily_budget_counters(alice, bob, model, settings):
    # A daily counter names its owner: an erasure that kept it would keep a trace of the user.
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": 10_000}
    alice.chat(model, "first")
    bob.chat(model, "bob's")
    counters = models.DailyUsage.objects
    assert counters.filter(owner=alice.user).count() == 1
    assert counters.filter(owner=bob.user).count() == 1

    dry = run("chatkit_purge", "--user", "alice", "--dry-run")
    assert "1 daily counter" in dry
    assert counters.filter(owner=alice.user).count() == 1

    real = run("chatkit_purge", "--user", "alice")
    assert "1 daily counter" in real
    assert not counters.filter(owner=alice.user).exists()
    assert counters.filter(owner=bob.user).count() == 1


def test_older_than_drops_daily_counters_of_days_before_the_cutoff(alice, model, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DAILY_TOKEN_BUDGET": 10_000}
    alice.chat(model, "today")
    today = models.DailyUsage.objects.get(owner=alice.user)
    old = models.DailyUsage.objects.create(
        owner=alice.user, day=today.day - LONG_AGO, spent=15, reserved=0
    )
    run("chatkit_purge", "--older-than", "30")
    assert list(models.DailyUsage.objects.values_list("pk", flat=True)) == [today.pk]
    assert not models.DailyUsage.objects.filter(pk=old.pk).exists()
