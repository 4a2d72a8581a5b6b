"""Two-phase uploads straight to an S3 bucket (``ATTACHMENT_PRESIGNED_UPLOADS``).

AWS is out of reach here, so the bucket is moto's S3 server: a real HTTP server on 127.0.0.1
that speaks the S3 protocol, behind django-storages' real S3 storage and boto3's real client.
(moto keeps one in-memory S3 per process, so objects outlive each test's server: tests look
for their own keys.)
"""

import base64
from datetime import timedelta

import httpx
import pytest
from agents.testing import assistant_message
from chatkit.types import Attachment
from django.core.management import call_command
from django.utils import timezone
from pydantic import TypeAdapter

from chatkit_backend import models
from chatkit_backend.attachments import stray_incoming_before
from chatkit_backend.testing import message_input, response_body
from tests.support.files import PDF, PNG

pytestmark = pytest.mark.django_db(transaction=True)
ATTACHMENT = TypeAdapter(Attachment)
BUCKET = "chatkit-test"


@pytest.fixture
def bucket(settings, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "chatkit": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": endpoint},
        },
    }
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "ATTACHMENT_STORAGE": "chatkit",
        "ATTACHMENT_PRESIGNED_UPLOADS": True,
    }
    yield client, endpoint
    server.stop()


def keys(client):
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def create(chatkit_client, name, content, mime):
    response = chatkit_client.request(
        "attachments.create", name=name, size=len(content), mime_type=mime
    )
    assert response.status == 200, response.content
    return ATTACHMENT.validate_json(response.content)


def the_model_sees_the_png(chatkit_client, model, attachment) -> models.Attachment:
    """Send the attachment in a message; the model gets the PNG's bytes. Returns its row."""
    model.enqueue([assistant_message("A cat.")])
    result = chatkit_client.create_thread("What is this?", [attachment.id])
    assert result.errors == []
    image = next(p for p in model.calls[-1].input[-1]["content"] if p["type"] == "input_image")
    assert image["image_url"].endswith(base64.b64encode(PNG).decode())
    row = models.Attachment.objects.get(id=attachment.id)
    assert row.size == len(PNG)
    return row


def test_descriptor_points_at_the_bucket_and_the_model_sees_the_file(
    bucket, chatkit_client, client, model
):
    s3, endpoint = bucket
    attachment = create(chatkit_client, "cat.png", PNG, "image/png")
    descriptor = attachment.upload_descriptor
    assert str(descriptor.url).startswith(f"{endpoint}/{BUCKET}/")
    assert descriptor.method == "PUT"
    assert descriptor.headers == {"Content-Type": "image/png"}

    put = httpx.put(str(descriptor.url), content=PNG, headers=descriptor.headers)
    assert put.status_code == 200
    assert keys(s3).count(f"chatkit/incoming/{attachment.id}") == 1

    row = the_model_sees_the_png(chatkit_client, model, attachment)
    assert row.uploaded_at is not None
    assert row.data["upload_descriptor"] is None
    download = client.get(f"/chatkit/attachments/{attachment.id}")
    assert download.status_code == 200 and response_body(download) == PNG
    # Checked and moved out of the presigned URL's reach.
    assert [key for key in keys(s3) if attachment.id in key] == [row.file_name]
    assert row.file_name == f"chatkit/attachments/{attachment.id}"


def test_bytes_that_are_not_the_declared_type_are_refused_and_deleted(bucket, chatkit_client):
    s3, _ = bucket
    attachment = create(chatkit_client, "cat.png", PNG, "image/png")
    descriptor = attachment.upload_descriptor
    httpx.put(str(descriptor.url), content=PDF, headers=descriptor.headers)
    response = chatkit_client.request(
        "threads.create", input=message_input("look", [attachment.id])
    )
    assert response.status == 415
    # The same answer as bytes sent to a two-phase upload URL get (one path checks both).
    assert response.json()["error"] == {
        "code": "attachment_type",
        "message": "The file's content is application/pdf, not the declared image/png.",
    }
    assert not [key for key in keys(s3) if attachment.id in key]
    assert models.Thread.objects.count() == 0


def test_bytes_past_the_owners_quota_are_refused_and_deleted(bucket, chatkit_client, settings):
    # The bucket takes whatever the presigned URL is sent; the quota is applied to the bytes
    # when they are first used, like the type and size checks.
    s3, _ = bucket
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENT_QUOTA_BYTES": 100}
    attachment = create(chatkit_client, "cat.png", b"x" * 10, "image/png")
    descriptor = attachment.upload_descriptor
    httpx.put(str(descriptor.url), content=PNG + b"\0" * 100, headers=descriptor.headers)
    response = chatkit_client.request(
        "threads.create", input=message_input("look", [attachment.id])
    )
    assert response.status == 413, response.content
    assert response.json()["error"]["code"] == "attachment_quota_exceeded"
    assert not [key for key in keys(s3) if attachment.id in key]
    assert models.Thread.objects.count() == 0
    assert models.Attachment.objects.get().uploaded_at is None


def test_an_attachment_whose_bytes_never_came_is_not_usable(bucket, chatkit_client, client):
    attachment = create(chatkit_client, "notes.txt", b"hello", "text/plain")
    response = chatkit_client.request(
        "threads.create", input=message_input("look", [attachment.id])
    )
    assert response.status == 400
    assert response.json()["error"]["code"] == "attachment_not_uploaded"
    assert client.get(f"/chatkit/attachments/{attachment.id}").status_code == 404


def test_a_presigned_url_replayed_after_the_check_changes_nothing(bucket, chatkit_client, client):
    # S3 cannot make a presigned PUT single-use: it works until it expires. What was checked
    # is moved out of its reach, so a second PUT lands where nothing is served from.
    s3, _ = bucket
    attachment = create(chatkit_client, "cat.png", PNG, "image/png")
    descriptor = attachment.upload_descriptor
    assert httpx.put(str(descriptor.url), content=PNG, headers=descriptor.headers).is_success
    first = client.get(f"/chatkit/attachments/{attachment.id}")
    assert first.status_code == 200 and response_body(first) == PNG

    html = b"<!doctype html><script>alert(1)</script>" + b"x" * 5000
    httpx.put(str(descriptor.url), content=html, headers=descriptor.headers)
    again = client.get(f"/chatkit/attachments/{attachment.id}")
    assert again.status_code == 200 and response_body(again) == PNG

    # Deleting the attachment removes what a replay left behind as well.
    assert chatkit_client.request("attachments.delete", attachment_id=attachment.id).status == 200
    assert not [key for key in keys(s3) if attachment.id in key]


def test_cleanup_removes_what_a_replay_left_after_the_attachment_went(
    bucket, chatkit_client, capsys
):
    s3, _ = bucket
    attachment = create(chatkit_client, "cat.png", PNG, "image/png")
    waiting = create(chatkit_client, "dog.png", PNG, "image/png")
    descriptor = attachment.upload_descriptor
    assert chatkit_client.request("attachments.delete", attachment_id=attachment.id).status == 200
    assert httpx.put(str(descriptor.url), content=PNG, headers=descriptor.headers).is_success
    httpx.put(str(waiting.upload_descriptor.url), content=PNG, headers=descriptor.headers)
    stray = f"chatkit/incoming/{attachment.id}"
    assert stray in keys(s3)

    # An upload still waiting to be used is not a stray.
    later = timezone.now() + timedelta(minutes=1)
    assert stray_incoming_before(later) == [stray]

    call_command("chatkit_cleanup_uploads", "--older-than", "0", "--dry-run")
    assert stray in keys(s3)
    assert "would delete stray file " + stray in capsys.readouterr().out
    call_command("chatkit_cleanup_uploads", "--older-than", "0")
    assert stray not in keys(s3)


@pytest.mark.parametrize("boundary", ["----WebKitFormBoundary7MA4YWxkTrZu0gW", "a:b=c d"])
def test_a_multipart_envelope_put_into_the_bucket_is_unwrapped(
    bucket, chatkit_client, client, model, boundary
):
    """A client that sends the SDK's documented multipart body to a presigned PUT (with the
    descriptor's Content-Type, so S3 accepts it) leaves the whole envelope in the bucket: it is
    found on first use and only the ``file`` part is kept."""
    s3, _ = bucket
    attachment = create(chatkit_client, "cat.png", PNG, "image/png")
    descriptor = attachment.upload_descriptor
    envelope = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cat.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + PNG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    put = httpx.put(str(descriptor.url), content=envelope, headers=descriptor.headers)
    assert put.status_code == 200

    row = the_model_sees_the_png(chatkit_client, model, attachment)
    stored = s3.get_object(Bucket=BUCKET, Key=row.file_name)["Body"].read()
    assert stored == PNG
    download = client.get(f"/chatkit/attachments/{attachment.id}")
    assert response_body(download) == PNG
    assert f"chatkit/incoming/{attachment.id}" not in keys(s3)


def test_an_envelope_whose_file_is_not_the_declared_type_is_refused(bucket, chatkit_client):
    s3, _ = bucket
    attachment = create(chatkit_client, "cat.png", PNG, "image/png")
    envelope = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="cat.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + PDF + b"\r\n--XyZ--\r\n"
    )
    httpx.put(
        str(attachment.upload_descriptor.url),
        content=envelope,
        headers=attachment.upload_descriptor.headers,
    )
    response = chatkit_client.request(
        "threads.create", input=message_input("look", [attachment.id])
    )
    assert response.status == 415
    assert not [key for key in keys(s3) if attachment.id in key]
