"""Signed, expiring capabilities for attachment uploads and downloads.

A two-phase upload URL and an image's ``preview_url`` must work without the widget's auth
headers (the browser fetches them directly), so the URL itself carries a signature bound to
one attachment and one purpose, and expires.
"""

from __future__ import annotations

from django.core import signing

SALT = "chatkit_backend.attachments"
VALID, EXPIRED, INVALID = "valid", "expired", "invalid"


def sign(attachment_id: str, purpose: str) -> str:
    return signing.dumps({"a": attachment_id, "p": purpose}, salt=SALT, compress=False)


def check(token: str, attachment_id: str, purpose: str, max_age: float) -> str:
    """``VALID``, ``EXPIRED`` (made for this attachment, too old) or ``INVALID``."""
    expected = {"a": attachment_id, "p": purpose}
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        # Only say "expired" about a token that was really made for this attachment.
        try:
            data = signing.loads(token, salt=SALT)
        except signing.BadSignature:
            return INVALID
        return EXPIRED if data == expected else INVALID
    except signing.BadSignature:
        return INVALID
    return VALID if data == expected else INVALID
