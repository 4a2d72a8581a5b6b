"""Errors the protocol layer turns into 4xx JSON answers."""

from __future__ import annotations


class RequestError(Exception):
    """A request the server understood but will not carry out (answered with a 4xx JSON)."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class Unsupported(RequestError):
    """An op this site has not configured (attachments, dictation, sync actions)."""

    code = "not_configured"


class TurnRefused(RequestError):
    """A turn the caller may not start (budget spent, a model not offered); shown in the
    widget as an error event, with nothing stored."""

    code = "turn_refused"
    status = 429


class ChoiceRefused(TurnRefused):
    """A message picks a model or a tool the site does not offer (``inference_options``)."""

    code = "choice_refused"
    status = 400


class TurnInProgress(RequestError):
    """Another turn is running in the thread (409, before any stream starts)."""

    code = "turn_in_progress"
    status = 409


class ProviderConfigurationError(Exception):
    """The model provider settings cannot work (unknown provider, missing key or base URL)."""
