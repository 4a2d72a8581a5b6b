"""Attachments end to end: both upload strategies, downloads, limits, the model's view, cleanup."""

import base64
import json
import threading
import time
from datetime import timedelta

import pytest
from agents.testing import assistant_message
from chatkit.types import Attachment, FileAttachment, ImageAttachment
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from pydantic import TypeAdapter

from chatkit_backend import models
from chatkit_backend.testing import message_input, response_body
from tests.support.files import PDF, PNG, PNG_SIZE, stored_files, upload

pytestmark = pytest.mark.django_db(transaction=True)
ATTACHMENT = TypeAdapter(Attachment)


@pytest.fixture
def later(monkeypatch):
    """Move the signing clock forward by some seconds (signatures carry their time)."""
    from django.core import signing

    real = time.time

    def advance(seconds):
        monkeypatch.setattr(signing.time, "time", lambda: real() + seconds)

    return advance


def download(client, url):
    response = client.get(url)
    return response, response_body(response)


@pytest.fixture
def logged_in(client, chatkit_user, chatkit_client):
    return client  # chatkit_client's fixture logged this client in


class TestDirectUpload:
    def test_image_round_trip_byte_for_byte(self, logged_in, media):
        response = upload(logged_in, "cat.png", PNG, "image/png")
        assert response.status_code == 200, response.content
        attachment = ATTACHMENT.validate_json(response.content)
        assert isinstance(attachment, ImageAttachment)
        assert attachment.id.startswith("atc_") and attachment.name == "cat.png"
        assert attachment.upload_descriptor is None
        # The preview URL works without credentials (an <img> tag sends none cross-origin).
        from django.test import Client

        preview, body = download(Client(), str(attachment.preview_url))
        assert preview.status_code == 200 and body == PNG
        assert preview["Content-Type"] == "image/png"
        assert preview["X-Content-Type-Options"] == "nosniff"
        assert preview["Content-Disposition"].startswith("inline")
        owner_view, body = download(logged_in, f"/chatkit/attachments/{attachment.id}")
        assert owner_view.status_code == 200 and body == PNG
        assert stored_files(media) == [attachment.id]  # our name, not the client's

    def test_pdf_round_trip_is_served_as_a_download(self, logged_in):
        attachment = ATTACHMENT.validate_json(
            upload(logged_in, "r.pdf", PDF, "application/pdf").content
        )
        assert isinstance(attachment, FileAttachment)
        response, body = download(logged_in, f"/chatkit/attachments/{attachment.id}")
        assert body == PDF
        assert response["Content-Disposition"].startswith("attachment")

    def test_needs_authentication(self, client):
        assert upload(client, "cat.png", PNG, "image/png").status_code == 401

    def test_path_traversal_name_is_cleaned_and_not_used_for_storage(self, logged_in, media):
        response = upload(logged_in, "../../etc/passwd.txt", b"root:x:0:0", "text/plain")
        attachment = ATTACHMENT.validate_json(response.content)
        assert attachment.name == "passwd.txt"
        assert stored_files(media) == [attachment.id]
        assert all(".." not in str(p) for p in media.rglob("*"))


class TestTwoPhaseUpload:
    def create(self, chatkit_client, name="cat.png", size=PNG_SIZE, mime="image/png"):
        response = chatkit_client.request(
            "attachments.create", name=name, size=size, mime_type=mime
        )
        assert response.status == 200, response.content
        return ATTACHMENT.validate_json(response.content)

    def test_put_raw_bytes_once(self, chatkit_client, media):
        from django.test import Client

        attachment = self.create(chatkit_client)
        descriptor = attachment.upload_descriptor
        assert descriptor is not None and descriptor.method == "POST"  # PUT works too
        anonymous = Client()  # the signed URL is the credential
        response = anonymous.put(str(descriptor.url), data=PNG, content_type="image/png")
        assert response.status_code == 200, response.content
        uploaded = ATTACHMENT.validate_json(response.content)
        assert uploaded.upload_descriptor is None
        row = models.Attachment.objects.get(id=attachment.id)
        assert row.data["upload_descriptor"] is None and row.size == len(PNG)
        _, body = download(anonymous, str(uploaded.preview_url))
        assert body == PNG
        # Works once.
        replay = anonymous.put(str(descriptor.url), data=PNG, content_type="image/png")
        assert replay.status_code == 409
        assert stored_files(media) == [attachment.id]

    def test_post_multipart_to_the_descriptor(self, chatkit_client, client):
        attachment = self.create(chatkit_client, "r.pdf", len(PDF), "application/pdf")
        response = client.post(
            str(attachment.upload_descriptor.url),
            {"file": SimpleUploadedFile("r.pdf", PDF, "application/pdf")},
        )
        assert response.status_code == 200, response.content
        _, body = download(client, f"/chatkit/attachments/{attachment.id}")
        assert body == PDF

    def test_expired_url_is_410(self, chatkit_client, client, later):
        attachment = self.create(chatkit_client)
        later(601)  # the default lifetime is 600 s
        response = client.put(
            str(attachment.upload_descriptor.url), data=PNG, content_type="image/png"
        )
        assert response.status_code == 410

    def test_token_only_works_for_its_own_attachment(self, chatkit_client, other_client, client):
        mine = self.create(chatkit_client)
        theirs = TestTwoPhaseUpload.create(self, other_client)
        token = str(mine.upload_descriptor.url).split("token=")[1]
        response = client.put(
            f"/chatkit/api/upload/{theirs.id}?token={token}", data=PNG, content_type="image/png"
        )
        assert response.status_code == 404
        assert not models.Attachment.objects.get(id=theirs.id).file_name

    def test_declared_size_and_type_are_checked_at_create(self, chatkit_client, settings):
        settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENT_MAX_BYTES": 100}
        too_big = chatkit_client.request(
            "attachments.create", name="a.png", size=101, mime_type="image/png"
        )
        assert too_big.status == 413
        wrong = chatkit_client.request(
            "attachments.create", name="a.exe", size=10, mime_type="application/x-msdownload"
        )
        assert wrong.status == 415
        assert models.Attachment.objects.count() == 0

    def test_bytes_must_match_the_declared_type(self, chatkit_client, client, media):
        attachment = self.create(chatkit_client)
        response = client.put(
            str(attachment.upload_descriptor.url), data=PDF, content_type="image/png"
        )
        assert response.status_code == 415
        assert response.json()["error"] == {
            "code": "attachment_type",
            "message": "The file's content is application/pdf, not the declared image/png.",
        }
        assert stored_files(media) == []


class TestLimits:
    def test_oversize_direct_upload_is_413_and_leaves_nothing(self, logged_in, settings, media):
        settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENT_MAX_BYTES": 1000}
        response = upload(logged_in, "big.txt", b"x" * 5000, "text/plain")
        assert response.status_code == 413
        assert stored_files(media) == [] and models.Attachment.objects.count() == 0

    def test_oversize_raw_body_is_413(self, chatkit_client, client, settings, media):
        attachment = TestTwoPhaseUpload.create(self, chatkit_client, "a.txt", 10, "text/plain")
        settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENT_MAX_BYTES": 1000}
        response = client.put(
            str(attachment.upload_descriptor.url), data=b"x" * 5000, content_type="text/plain"
        )
        assert response.status_code == 413
        assert stored_files(media) == []

    @pytest.mark.parametrize(
        ("name", "content", "claimed"),
        [
            ("photo.png", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "image/png"),
            ("notes.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "text/plain"),
            ("page.png", b"<!doctype html><script>alert(1)</script>", "image/png"),
        ],
    )
    def test_lying_name_and_type_is_415(self, logged_in, media, name, content, claimed):
        response = upload(logged_in, name, content, claimed)
        assert response.status_code == 415, response.content
        assert stored_files(media) == [] and models.Attachment.objects.count() == 0

    @pytest.mark.parametrize(
        ("name", "content", "expected"),
        [
            ("notes.log", b"plain words from a file the browser has no type for\n", "text/plain"),
            ("scan", PNG, "image/png"),
        ],
    )
    def test_direct_upload_judges_an_unknown_claim_by_the_bytes(
        self, logged_in, media, name, content, expected
    ):
        # Browsers send application/octet-stream for extensions they do not know.
        response = upload(logged_in, name, content, "application/octet-stream")
        assert response.status_code == 200, response.content
        attachment = ATTACHMENT.validate_json(response.content)
        assert attachment.mime_type == expected
        _, body = download(logged_in, f"/chatkit/attachments/{attachment.id}")
        assert body == content

    def test_html_and_svg_are_never_rendered_inline(self, logged_in, settings):
        settings.CHATKIT_BACKEND = {
            **settings.CHATKIT_BACKEND,
            "ATTACHMENT_ALLOWED_TYPES": ["text/html", "image/svg+xml"],
        }
        for name, content, claimed in [
            ("x.html", b"<!DOCTYPE html><script>alert(1)</script>", "text/html"),
            (
                "x.svg",
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                "image/svg+xml",
            ),
        ]:
            attachment = ATTACHMENT.validate_json(upload(logged_in, name, content, claimed).content)
            response, body = download(logged_in, f"/chatkit/attachments/{attachment.id}")
            assert body == content
            assert response["Content-Type"] == "application/octet-stream"
            assert response["Content-Disposition"].startswith("attachment")
            assert response["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in response["Content-Security-Policy"]

    def test_too_many_attachments_per_message(self, logged_in, chatkit_client, settings):
        settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENT_MAX_PER_MESSAGE": 1}
        ids = [
            ATTACHMENT.validate_json(upload(logged_in, f"{n}.txt", b"hi", "text/plain").content).id
            for n in range(2)
        ]
        response = chatkit_client.request("threads.create", input=message_input("two", ids))
        assert response.status == 400
        assert response.json()["error"]["code"] == "too_many_attachments"


def test_the_model_sees_image_pdf_and_text(logged_in, chatkit_client, model):
    image = ATTACHMENT.validate_json(upload(logged_in, "cat.png", PNG, "image/png").content)
    pdf = ATTACHMENT.validate_json(upload(logged_in, "r.pdf", PDF, "application/pdf").content)
    text = ATTACHMENT.validate_json(
        upload(logged_in, "n.md", b"# Notes\nhello", "text/markdown").content
    )
    model.enqueue([assistant_message("Got them.")])
    result = chatkit_client.create_thread("What are these?", [image.id, pdf.id, text.id])
    assert result.errors == []
    content = model.calls[-1].input[-1]["content"]
    kinds = {part["type"]: part for part in content}
    assert (
        kinds["input_image"]["image_url"]
        == "data:image/png;base64," + base64.b64encode(PNG).decode()
    )
    assert kinds["input_file"]["file_data"].endswith(base64.b64encode(PDF).decode())
    assert kinds["input_file"]["filename"] == "r.pdf"
    assert any("# Notes\nhello" in part.get("text", "") for part in content)
    # The stored message lists them, linked to the thread.
    assert set(
        models.Attachment.objects.filter(thread_id=result.thread_id).values_list("id", flat=True)
    ) == {image.id, pdf.id, text.id}


def test_preview_urls_are_signed_afresh_on_every_read(logged_in, chatkit_client, model, later):
    image = ATTACHMENT.validate_json(upload(logged_in, "cat.png", PNG, "image/png").content)
    model.enqueue([assistant_message("nice")])
    thread_id = chatkit_client.create_thread("look", [image.id]).thread_id
    later(2 * 3600)  # previews are signed for an hour
    stale = models.ThreadItem.objects.get(thread_id=thread_id, type="user_message").data
    stale_url = stale["attachments"][0]["preview_url"]
    assert download(logged_in.__class__(), stale_url)[0].status_code == 404
    fresh = chatkit_client.list_items(thread_id).data[-1].attachments[0].preview_url
    response, body = download(logged_in.__class__(), str(fresh))
    assert response.status_code == 200 and body == PNG


class TestIsolation:
    @pytest.fixture
    def theirs(self, other_client, client_factory, other_user):
        client = client_factory()
        client.force_login(other_user)
        return ATTACHMENT.validate_json(upload(client, "secret.png", PNG, "image/png").content)

    def test_someone_elses_attachment_is_404_everywhere(
        self, theirs, logged_in, chatkit_client, media
    ):
        before = (stored_files(media), list(models.Attachment.objects.values()))
        assert download(logged_in, f"/chatkit/attachments/{theirs.id}")[0].status_code == 404
        assert chatkit_client.request("attachments.delete", attachment_id=theirs.id).status == 404
        sent = chatkit_client.request("threads.create", input=message_input("mine", [theirs.id]))
        assert sent.status == 404
        forged = logged_in.get(f"/chatkit/attachments/{theirs.id}?token=forged")
        assert forged.status_code == 404
        assert (stored_files(media), list(models.Attachment.objects.values())) == before


class GatedStorage(FileSystemStorage):
    """Holds every save until the test opens the gate, so a test can act mid-upload."""

    entered = threading.Event()
    gate = threading.Event()

    def _save(self, name, content):
        GatedStorage.entered.set()
        assert GatedStorage.gate.wait(10), "the test never opened the gate"
        return super()._save(name, content)


class TestLifecycle:
    def test_attachments_delete_removes_bytes_and_row(self, logged_in, chatkit_client, media):
        attachment = ATTACHMENT.validate_json(
            upload(logged_in, "a.txt", b"hi", "text/plain").content
        )
        response = chatkit_client.request("attachments.delete", attachment_id=attachment.id)
        assert response.status == 200
        assert not models.Attachment.objects.filter(id=attachment.id).exists()
        assert stored_files(media) == []

    def test_deleting_a_thread_deletes_its_files(self, logged_in, chatkit_client, model, media):
        attachment = ATTACHMENT.validate_json(
            upload(logged_in, "a.txt", b"hi", "text/plain").content
        )
        model.enqueue([assistant_message("ok")])
        thread_id = chatkit_client.create_thread("see", [attachment.id]).thread_id
        assert stored_files(media) == [attachment.id]
        chatkit_client.delete_thread(thread_id)
        assert stored_files(media) == []

    def test_cleanup_command(self, logged_in, chatkit_client, model, media):
        ids = [
            ATTACHMENT.validate_json(upload(logged_in, f"{n}.txt", b"hi", "text/plain").content).id
            for n in range(3)
        ]
        old, recent, attached = ids
        model.enqueue([assistant_message("ok")])
        chatkit_client.create_thread("see", [attached])
        two_days_ago = timezone.now() - timedelta(days=2)
        models.Attachment.objects.filter(id__in=[old, attached]).update(created_at=two_days_ago)

        call_command("chatkit_cleanup_uploads", "--dry-run", stdout=open("/dev/null", "w"))
        assert sorted(stored_files(media)) == sorted(ids)
        call_command("chatkit_cleanup_uploads", stdout=open("/dev/null", "w"))
        assert sorted(stored_files(media)) == sorted([recent, attached])
        assert set(models.Attachment.objects.values_list("id", flat=True)) == {recent, attached}


def test_json_shapes_exclude_metadata(logged_in):
    raw = json.loads(upload(logged_in, "a.txt", b"hi", "text/plain").content)
    assert "metadata" not in raw


def test_session_upload_with_csrf_enforced_keeps_the_file(chatkit_user, media):
    """A browser's upload: session cookie, CSRF header, multipart body (DRF's CSRF check
    reads the form; the file must survive it)."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(chatkit_user)
    browser.get("/admin/login/")
    token = browser.cookies["csrftoken"].value
    refused = browser.post(
        "/chatkit/api/upload", {"file": SimpleUploadedFile("a.png", PNG, "image/png")}
    )
    assert refused.status_code == 403
    response = browser.post(
        "/chatkit/api/upload",
        {"file": SimpleUploadedFile("a.png", PNG, "image/png")},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.content
    attachment = ATTACHMENT.validate_json(response.content)
    assert download(browser, f"/chatkit/attachments/{attachment.id}")[1] == PNG


def test_session_upload_over_the_limit_with_csrf_enforced_is_413(chatkit_user, media, settings):
    from django.test import Client

    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENT_MAX_BYTES": 1000}
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(chatkit_user)
    browser.get("/admin/login/")
    response = browser.post(
        "/chatkit/api/upload",
        {"file": SimpleUploadedFile("a.txt", b"x" * 5000, "text/plain")},
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )
    assert response.status_code == 413
    assert stored_files(media) == []


def test_deleting_an_attachment_mid_upload_leaves_no_file(
    chatkit_client, chatkit_user, settings, media
):
    from django.test import Client

    settings.STORAGES = {
        **settings.STORAGES,
        "gated": {
            "BACKEND": "tests.test_attachments.GatedStorage",
            "OPTIONS": {"location": str(media)},
        },
    }
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENT_STORAGE": "gated"}
    GatedStorage.entered.clear()
    GatedStorage.gate.clear()
    attachment = TestTwoPhaseUpload.create(None, chatkit_client)
    answers = {}

    def put():
        try:
            answers["put"] = Client().put(
                str(attachment.upload_descriptor.url), data=PNG, content_type="image/png"
            )
        finally:
            connections.close_all()  # this thread's own connection

    def delete():
        deleter = Client()
        deleter.force_login(chatkit_user)
        try:
            answers["delete"] = deleter.post(
                "/chatkit/api",
                json.dumps(
                    {"type": "attachments.delete", "params": {"attachment_id": attachment.id}}
                ),
                content_type="application/json",
            )
        finally:
            connections.close_all()

    uploader = threading.Thread(target=put)
    uploader.start()
    try:
        assert GatedStorage.entered.wait(10), "the upload never reached the storage"
        deleter = threading.Thread(target=delete)
        deleter.start()
        time.sleep(0.5)  # let the delete reach the upload's lock before the upload finishes
    finally:
        GatedStorage.gate.set()
    uploader.join(20)
    deleter.join(20)
    assert answers["delete"].status_code == 200, answers["delete"].content
    assert not models.Attachment.objects.filter(id=attachment.id).exists()
    assert stored_files(media) == []


# -- two-phase uploads in every shape a client may send (multipart or raw), over real HTTP ------


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("shape", ["multipart", "raw"])
def test_two_phase_upload_in_every_shape(live_asgi, chatkit_user, method, shape):
    """The SDK's guide says the client POSTs multipart with a ``file`` field; ChatKit.js cannot
    run here to confirm, so both methods and both body shapes work, over a real server."""
    api = live_asgi.chatkit(chatkit_user)
    response = api.request(
        "attachments.create", name="r.pdf", size=len(PDF), mime_type="application/pdf"
    )
    assert response.status == 200, response.content
    attachment = ATTACHMENT.validate_json(response.content)
    descriptor = attachment.upload_descriptor
    assert descriptor.method == "POST"  # the SDK's documented shape is the default

    anonymous = live_asgi.http()  # the signed URL is the credential
    if shape == "multipart":
        sent = anonymous.request(
            method, str(descriptor.url), files={"file": ("r.pdf", PDF, "application/pdf")}
        )
    else:
        sent = anonymous.request(
            method, str(descriptor.url), content=PDF, headers={"Content-Type": "application/pdf"}
        )
    assert sent.status_code == 200, sent.text
    uploaded = ATTACHMENT.validate_json(sent.content)
    assert uploaded.id == attachment.id and uploaded.upload_descriptor is None
    mine = live_asgi.http(chatkit_user)
    download = mine.get(f"/chatkit/attachments/{attachment.id}")
    assert download.status_code == 200 and download.content == PDF
    # Once only, whatever the shape of the second try.
    again = anonymous.request(method, str(descriptor.url), files={"file": ("r.pdf", PDF)})
    assert again.status_code == 409


def test_a_multipart_upload_without_a_file_field_is_400(live_asgi, chatkit_user):
    api = live_asgi.chatkit(chatkit_user)
    attachment = ATTACHMENT.validate_json(
        api.request(
            "attachments.create", name="r.pdf", size=len(PDF), mime_type="application/pdf"
        ).content
    )
    sent = live_asgi.http().put(
        str(attachment.upload_descriptor.url), files={"upload": ("r.pdf", PDF, "application/pdf")}
    )
    assert sent.status_code == 400
    assert sent.json()["error"]["code"] == "no_file"
    assert models.Attachment.objects.get(id=attachment.id).uploaded_at is None


def test_the_descriptor_method_follows_the_setting(chatkit_client, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENT_UPLOAD_METHOD": "PUT"}
    response = chatkit_client.request(
        "attachments.create", name="cat.png", size=PNG_SIZE, mime_type="image/png"
    )
    assert ATTACHMENT.validate_json(response.content).upload_descriptor.method == "PUT"
