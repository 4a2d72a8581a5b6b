"""ASGI apps of the live-updates benchmark (``benchmarks/live.py``).

``application``: the example site (HTTP and ``chatkit/ws``) with a probe that writes the
``time.monotonic()`` of every committed change to ``BENCH_LIVE_LOG``, before the notice is
published (CLOCK_MONOTONIC is one clock for every process of the machine, so the client can
subtract it from the time a notice reached it). ``floor``: a bare ASGI WebSocket app that
accepts and idles: what uvicorn and its WebSocket protocol cost per socket.
"""

from __future__ import annotations

import os
import time
from typing import Any

from example_project.asgi import application  # noqa: F401  (sets Django up)

_log = open(os.environ.get("BENCH_LIVE_LOG", os.devnull), "a", buffering=1)


def probe(sender: Any, thread_id: str, change: str, fields: Any = None, **kwargs: Any) -> None:
    _log.write(f"{time.monotonic()} {thread_id} {change} {','.join(fields or [])}\n")


def _install_probe() -> None:
    # Imported once Django is set up (by the example's asgi module, above).
    from chatkit_backend.live import notify
    from chatkit_backend.signals import thread_changed

    # The probe runs first: the notice is published after it (receivers run in connect order).
    thread_changed.disconnect(dispatch_uid="chatkit_live_changes")
    thread_changed.connect(probe, dispatch_uid="bench_live_probe")
    notify.connect()


_install_probe()


async def floor(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": '{"type": "ready"}'})
        elif message["type"] == "websocket.disconnect":
            return
