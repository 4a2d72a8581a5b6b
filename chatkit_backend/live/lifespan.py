"""The ASGI lifespan protocol for the site's ``ProtocolTypeRouter``: on shutdown (SIGTERM
under uvicorn, hypercorn or granian), turns that run on their own get
``SHUTDOWN_GRACE_SECONDS`` to finish before they are cut off (see
:mod:`chatkit_backend.live.detached`).

    application = ProtocolTypeRouter({
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
        "lifespan": chatkit_lifespan,
    })

daphne does not speak lifespan: under it, a stopping worker drops detached turns (their
leases lapse; what was stored stays).
"""

from __future__ import annotations

from typing import Any

from ..conf import conf
from .detached import shutdown


async def chatkit_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await shutdown(conf.SHUTDOWN_GRACE_SECONDS)
            await send({"type": "lifespan.shutdown.complete"})
            return
