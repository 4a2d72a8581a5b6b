"""Reading a request body into a ChatKit request: JSON first, then the protocol's models, with
the limits (:mod:`.limits`) and strictness (:mod:`.validation`) on the way."""

from __future__ import annotations

import json

from chatkit.types import ChatKitReq
from pydantic import TypeAdapter

from ..conf import conf
from ..exceptions import RequestError
from . import limits
from .validation import refuse_constant, unknown_fields, unstorable_text

# chatkit's own process() builds this adapter on every request, which costs more than the
# rest of a plain turn; building it once is the same validation.
REQUEST_ADAPTER: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)


def parse_request(body: str | bytes | bytearray) -> ChatKitReq:
    """Validate a request body.

    Raises ``RequestError`` for a body that is not JSON, carries unknown fields or more
    than the limits allow (``limits``), and ``pydantic.ValidationError`` for one that does
    not fit the protocol.
    """
    limits.check_containers(body)
    try:
        raw = json.loads(body, parse_constant=refuse_constant)
    except ValueError:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not text
        raise RequestError("The request body is not valid JSON.") from None
    except RecursionError:
        raise RequestError("The request body is nested too deeply.") from None
    limits.check_value_count(raw)
    unstorable = unstorable_text(body, raw)
    if unstorable is not None:
        where = ".".join(str(part) for part in unstorable) or "the body"
        raise RequestError(
            f"Text at {where} holds a NUL character or an unpaired surrogate, which "
            "cannot be stored."
        )
    request = REQUEST_ADAPTER.validate_python(raw)
    if conf.REJECT_UNKNOWN_FIELDS:
        unknown = unknown_fields(request, raw)
        if unknown:
            where = ".".join(str(part) for part in unknown[0])
            raise RequestError(f"Unknown field: {where}.", code="unknown_field")
    limits.check_request(request)
    return request
