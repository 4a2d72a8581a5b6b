"""The endpoints the page's ``entities`` callbacks call, authenticated like the API.

- ``GET chatkit/entities?q=…`` (``chatkit_backend:entities``): ``{"entities": [Entity…]}``
  from ``ENTITY_SEARCH``, for ``entities.onTagSearch``;
- ``POST chatkit/entities/preview`` (``chatkit_backend:entity_preview``), the entity as the
  JSON body: ``{"preview": widget | null}`` from ``ENTITY_PREVIEW``, exactly what
  ``entities.onRequestPreview`` returns.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from pydantic import BaseModel, ValidationError

from ..conf import conf
from ..context import RequestContext
from ..intake.http import error_response, guard
from .schema import ENTITIES, Entity

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
DEFAULT_RESULTS = 20


async def call_hook(hook: Callable[..., Any], *args: Any) -> Any:
    """Call a site's hook, sync (in a thread: it may query the database) or async."""
    if inspect.iscoroutinefunction(hook):
        return await hook(*args)
    result = await sync_to_async(hook)(*args)
    return await result if inspect.isawaitable(result) else result


def not_configured(setting: str) -> JsonResponse:
    return error_response(
        400, "not_configured", f"Set CHATKIT_BACKEND[{setting!r}] to use this endpoint."
    )


def hook_failed(setting: str) -> JsonResponse:
    logger.exception("CHATKIT_BACKEND[%r] failed or returned something unusable", setting)
    return error_response(500, "entity_source_failed", f"The site's {setting} hook failed.")


def _limit(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or DEFAULT_RESULTS), conf.MAX_PAGE_SIZE))
    except ValueError:
        return DEFAULT_RESULTS


async def guarded_hook(
    request: HttpRequest, method: str, setting: str
) -> tuple[RequestContext, Callable[..., Any]] | HttpResponseBase:
    """The caller's context and the hook ``setting`` names, or the refusal to answer."""
    checked = await guard(request, methods=(method,), scope="requests")
    if isinstance(checked, HttpResponseBase):
        return checked
    hook = conf.imported(setting)
    return (checked, hook) if hook is not None else not_configured(setting)


@csrf_exempt  # safe: GET only; CSRF is the authentication's (session) business
async def entity_search(request: HttpRequest) -> HttpResponseBase:
    """Entities matching ``q`` for the caller, as ``ENTITY_SEARCH`` finds them."""
    guarded = await guarded_hook(request, "GET", "ENTITY_SEARCH")
    if isinstance(guarded, HttpResponseBase):
        return guarded
    checked, search = guarded
    query = request.GET.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        return error_response(
            400, "query_too_long", f"Search for at most {MAX_QUERY_CHARS} characters."
        )
    try:
        # Only what is sent is checked: a source may return more than the page shows.
        found = list(await call_hook(search, query, checked))[: _limit(request.GET.get("limit"))]
        entities = ENTITIES.validate_python(
            [entity.as_json() if isinstance(entity, Entity) else entity for entity in found]
        )
    except Exception:
        return hook_failed("ENTITY_SEARCH")
    return JsonResponse({"entities": [entity.as_json() for entity in entities]})


def _entity_of(request: HttpRequest) -> Entity | JsonResponse:
    if len(request.body) > conf.MAX_JSON_CHARS:
        return error_response(413, "request_too_large", "The entity is too large.")
    try:
        return Entity.model_validate(json.loads(request.body))
    except (ValueError, RecursionError, ValidationError):
        return error_response(400, "invalid_entity", "Send the entity as a JSON object.")


def _widget_json(preview: Any) -> Any:
    if preview is None or isinstance(preview, dict):
        return preview
    if isinstance(preview, BaseModel):
        return preview.model_dump(mode="json", exclude_none=True, by_alias=True)
    raise TypeError(f"ENTITY_PREVIEW returned {type(preview).__name__}, not a widget")


@csrf_exempt  # a session's CSRF token is checked by its authentication (see auth.py)
async def entity_preview(request: HttpRequest) -> HttpResponseBase:
    """A preview widget for the entity in the body, as ``ENTITY_PREVIEW`` draws it."""
    guarded = await guarded_hook(request, "POST", "ENTITY_PREVIEW")
    if isinstance(guarded, HttpResponseBase):
        return guarded
    checked, preview_hook = guarded
    entity = _entity_of(request)
    if isinstance(entity, JsonResponse):
        return entity
    try:
        preview = _widget_json(await call_hook(preview_hook, entity, checked))
    except Exception:
        return hook_failed("ENTITY_PREVIEW")
    return JsonResponse({"preview": preview})
