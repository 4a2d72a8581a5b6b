"""Per-owner upload volume: a quota on stored bytes and a cap on uploads not yet attached.

Before: one user stored 20 x 10 MiB unattached uploads in under a second, and the default
request rate allowed about 6 GiB a minute until the cleanup job ran.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from agents.testing import assistant_message
from chatkit.types import Attachment
from django.core.files.uploadedfile import SimpleUploadedFile
from pydantic import TypeAdapter

from chatkit_backend import models
from chatkit_backend.testing import LiveServer
from tests.support.files import stored_files

pytestmark = pytest.mark.django_db(transaction=True)
ATTACHMENT = TypeAdapter(Attachment)
UPLOAD = "/chatkit/api/upload"


def upload(client, content: bytes, name: str = "a.txt"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, content, "text/plain")})


def quota_settings(settings, **values) -> None:
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, **values}


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


@pytest.fixture
def logged_in(client, chatkit_client):
    return client  # chatkit_client's fixture logged this client in


def create(chatkit_client, size: int, name: str = "a.txt"):
    return chatkit_client.request(
        "attachments.create", name=name, size=size, mime_type="text/plain"
    )


class TestPendingUploads:
    def test_direct_uploads_past_the_cap_are_429_and_store_nothing(
        self, logged_in, settings, media
    ):
        quota_settings(settings, ATTACHMENT_MAX_PENDING=2)
        first, second = (upload(logged_in, b"hello").status_code for _ in range(2))
        assert (first, second) == (200, 200)
        files, rows = stored_files(media), models.Attachment.objects.count()
        assert_refused(upload(logged_in, b"hello"), 429, "too_many_pending_uploads")
        assert stored_files(media) == files
        assert models.Attachment.objects.count() == rows

    def test_attaching_an_upload_to_a_message_frees_its_place(
        self, logged_in, chatkit_client, model, settings
    ):
        quota_settings(settings, ATTACHMENT_MAX_PENDING=1)
        attachment = ATTACHMENT.validate_json(upload(logged_in, b"hello").content)
        assert upload(logged_in, b"again").status_code == 429
        model.enqueue([assistant_message("read it")])
        chatkit_client.create_thread("see", [attachment.id])
        assert upload(logged_in, b"again").status_code == 200

    def test_two_phase_creates_past_the_cap_are_429(self, chatkit_client, settings):
        quota_settings(settings, ATTACHMENT_MAX_PENDING=2)
        assert [create(chatkit_client, 5).status for _ in range(2)] == [200, 200]
        response = create(chatkit_client, 5)
        assert response.status == 429, response.content
        assert response.json()["error"]["code"] == "too_many_pending_uploads"
        assert models.Attachment.objects.count() == 2

    def test_the_cap_is_per_owner(self, logged_in, other_user, client_factory, settings):
        quota_settings(settings, ATTACHMENT_MAX_PENDING=1)
        assert upload(logged_in, b"mine").status_code == 200
        other = client_factory()
        other.force_login(other_user)
        assert upload(other, b"theirs").status_code == 200

    def test_concurrent_uploads_cannot_pass_the_cap(
        self, live_asgi: LiveServer, chatkit_user, settings, media
    ):
        quota_settings(settings, ATTACHMENT_MAX_PENDING=3, THROTTLE_RATES={})
        http = live_asgi.http(chatkit_user, timeout=30)

        def send(n: int) -> int:
            files = {"file": (f"{n}.txt", b"hello %d" % n, "text/plain")}
            return http.post(UPLOAD, files=files).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(send, range(12)))
        assert sorted(statuses) == [200] * 3 + [429] * 9, statuses
        assert models.Attachment.objects.count() == 3
        assert len(stored_files(media)) == 3


class TestStoredBytes:
    def test_direct_upload_past_the_quota_is_413_and_stores_nothing(
        self, logged_in, settings, media
    ):
        quota_settings(settings, ATTACHMENT_QUOTA_BYTES=10)
        assert upload(logged_in, b"12345678").status_code == 200
        files = stored_files(media)
        assert_refused(upload(logged_in, b"12345"), 413, "attachment_quota_exceeded")
        assert stored_files(media) == files
        assert models.Attachment.objects.count() == 1
        assert upload(logged_in, b"12").status_code == 200  # exactly at the quota

    def test_attached_files_count_until_their_thread_is_deleted(
        self, logged_in, chatkit_client, model, settings
    ):
        quota_settings(settings, ATTACHMENT_QUOTA_BYTES=10)
        attachment = ATTACHMENT.validate_json(upload(logged_in, b"12345678").content)
        model.enqueue([assistant_message("ok")])
        thread_id = chatkit_client.create_thread("see", [attachment.id]).thread_id
        assert upload(logged_in, b"12345").status_code == 413
        chatkit_client.delete_thread(thread_id)
        assert upload(logged_in, b"12345").status_code == 200

    def test_two_phase_declared_size_past_the_quota_is_413(self, chatkit_client, settings):
        quota_settings(settings, ATTACHMENT_QUOTA_BYTES=10)
        response = create(chatkit_client, 11)
        assert response.status == 413, response.content
        assert response.json()["error"]["code"] == "attachment_quota_exceeded"
        assert models.Attachment.objects.count() == 0

    def test_two_phase_bytes_past_the_quota_are_413_and_stored_nothing(
        self, chatkit_client, client, settings, media
    ):
        # The declared size is the client's word; the bytes that arrive are counted again.
        quota_settings(settings, ATTACHMENT_QUOTA_BYTES=10)
        attachment = ATTACHMENT.validate_json(create(chatkit_client, 1).content)
        response = client.put(
            str(attachment.upload_descriptor.url), data=b"x" * 11, content_type="text/plain"
        )
        assert_refused(response, 413, "attachment_quota_exceeded")
        assert stored_files(media) == []
        assert models.Attachment.objects.get().uploaded_at is None


def test_a_negative_size_is_400_and_stores_nothing(chatkit_client):
    response = create(chatkit_client, -1)
    assert response.status == 400, response.content
    assert response.json()["error"]["code"] == "invalid_size"
    assert models.Attachment.objects.count() == 0


def test_the_defaults_bound_every_owner():
    from chatkit_backend.conf import DEFAULTS

    assert DEFAULTS["ATTACHMENT_QUOTA_BYTES"] and DEFAULTS["ATTACHMENT_MAX_PENDING"]
