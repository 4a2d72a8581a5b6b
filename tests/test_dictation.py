"""Dictation (``input.transcribe``): through the provider factory to OpenAI's transcription
endpoint, here a loopback server speaking ``POST /v1/audio/transcriptions``; refused for other
providers, and past ``DICTATION_MAX_BYTES`` or ``DICTATION_MAX_SECONDS``."""

from __future__ import annotations

import base64

import pytest

from chatkit_backend.audio import duration_of
from tests.support.audio import mp4, ogg, webm
from tests.support.fake_provider import FakeProvider

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-test-dictation-key-0123456789"


@pytest.fixture
def openai(settings):
    with FakeProvider() as server:
        settings.CHATKIT_BACKEND = {
            **settings.CHATKIT_BACKEND,
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": KEY,
            "LLM_BASE_URL": server.base_url,
            "MAX_REQUEST_BYTES": 1024 * 1024,  # room for the recordings below
        }
        yield server


def transcribe(chatkit_client, audio: bytes, mime_type: str = "audio/webm;codecs=opus"):
    return chatkit_client.request(
        "input.transcribe", audio_base64=base64.b64encode(audio).decode(), mime_type=mime_type
    )


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status, error["code"], error["message"]


def test_a_recording_is_transcribed_by_openais_endpoint(chatkit_client, openai: FakeProvider):
    openai.transcript = "Book a table for two"
    recording = webm(3.2)
    response = transcribe(chatkit_client, recording)
    assert response.status == 200 and response.json() == {"text": "Book a table for two"}
    [request] = openai.requests
    assert request.path == "/v1/audio/transcriptions" and request.bearer == KEY
    fields = request.form()
    assert fields["model"] == (None, b"gpt-4o-mini-transcribe")
    assert fields["file"] == ("dictation.webm", recording)


@pytest.mark.parametrize(
    "recording, mime_type, name",
    [(ogg(2), "audio/ogg;codecs=opus", "dictation.ogg"), (mp4(2), "audio/mp4", "dictation.mp4")],
)
def test_each_browser_format_is_accepted(chatkit_client, openai, recording, mime_type, name):
    assert transcribe(chatkit_client, recording, mime_type).status == 200
    assert openai.requests[-1].form()["file"][0] == name


def test_the_transcription_model_is_a_setting(chatkit_client, openai, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "TRANSCRIPTION_MODEL": "whisper-1"}
    assert transcribe(chatkit_client, webm(1)).status == 200
    assert openai.requests[-1].form()["model"] == (None, b"whisper-1")


@pytest.mark.parametrize(
    "provider",
    [
        {"LLM_PROVIDER": "offline"},
        {"LLM_PROVIDER": "gemini", "GEMINI_API_KEY": "g-key"},
        {"LLM_PROVIDER": "openai_compatible", "LLM_BASE_URL": "http://127.0.0.1:9/v1/"},
    ],
)
def test_other_providers_answer_not_configured(chatkit_client, settings, provider):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "LLM_MODEL": "m", **provider}
    status, code, message = error_of(transcribe(chatkit_client, webm(1)))
    assert (status, code) == (400, "not_configured")
    assert "Dictation is not configured on this server" in message
    assert f"this site uses {provider['LLM_PROVIDER']}" in message


def test_a_recording_over_the_size_cap_never_reaches_the_provider(chatkit_client, openai, settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "DICTATION_MAX_BYTES": 4096}
    recording = webm(10)
    assert len(recording) > 4096
    status, code, message = error_of(transcribe(chatkit_client, recording))
    assert (status, code, message) == (
        413,
        "audio_too_large",
        "The recording is larger than 4 KiB.",
    )
    assert openai.requests == []


@pytest.mark.parametrize(
    "recording, mime_type",
    [
        (webm(61), "audio/webm"),
        (webm(61, declared=True), "audio/webm"),
        (ogg(90), "audio/ogg"),
        (mp4(75), "audio/mp4"),
    ],
)
def test_a_recording_over_the_duration_cap_is_refused(chatkit_client, openai, recording, mime_type):
    status, code, message = error_of(transcribe(chatkit_client, recording, mime_type))
    assert (status, code) == (413, "audio_too_long")
    assert message.endswith("the limit is 60.")
    assert openai.requests == []


def test_a_recording_that_is_not_what_it_claims_is_refused(chatkit_client, openai):
    assert error_of(transcribe(chatkit_client, webm(1), "audio/ogg"))[:2] == (415, "audio_type")
    assert error_of(transcribe(chatkit_client, b"<html>", "audio/webm"))[:2] == (415, "audio_type")
    assert error_of(transcribe(chatkit_client, b"", "audio/webm"))[:2] == (400, "audio_empty")
    assert openai.requests == []


def test_a_provider_failure_is_a_clear_502_without_the_key(chatkit_client, openai):
    openai.fail_if(lambda request: True, 401)
    status, code, message = error_of(transcribe(chatkit_client, webm(1)))
    assert (status, code) == (502, "transcription_failed")
    assert "rejected the API key" in message and KEY not in message


def test_the_composer_endpoint_says_dictation_works(chatkit_client, openai):
    answer = chatkit_client.transport.get("/chatkit/composer")
    assert answer.json()["dictation"] == {"enabled": True}


@pytest.mark.parametrize(
    "recording, seconds",
    [(webm(12.5), 12.5), (webm(7, declared=True), 7.0), (ogg(30), 30.0), (mp4(61.2), 61.2)],
)
def test_durations_are_read_from_each_container(recording, seconds):
    assert duration_of(recording) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "broken", [b"\x1a\x45\xdf\xa3" + bytes(20), b"OggS", b"\x00\x00\x00\x08ftyp"]
)
def test_a_broken_container_has_no_duration_rather_than_an_error(broken):
    assert duration_of(broken) is None
