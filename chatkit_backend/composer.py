"""``GET chatkit/composer``: the composer options the server decides, for the page to use.

A page spreads them into its ChatKit options (``composer: {...options}``): ``models`` is
``MODEL_CHOICES`` in the shape of ``composer.models`` (omitted without a picker), and
``dictation.enabled`` says whether ``input.transcribe`` can work on this server. Keeping
them on the server means the picker never offers a model the server would refuse.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from .intake.http import guard
from .reasoning.choices import model_options
from .server import get_server


def composer_options() -> dict[str, Any]:
    """``{"models": [...], "dictation": {"enabled": bool}}`` (``models`` only with
    ``MODEL_CHOICES``): for a template that renders the page's options itself."""
    options: dict[str, Any] = {"dictation": {"enabled": get_server().dictation_enabled()}}
    models = model_options()
    if models:
        options["models"] = models
    return options


@csrf_exempt  # GET only
async def composer(request: HttpRequest) -> HttpResponseBase:
    checked = await guard(request, methods=("GET",), scope="requests")
    if isinstance(checked, HttpResponseBase):
        return checked
    return JsonResponse(composer_options())
