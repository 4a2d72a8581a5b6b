"""The floor: a bare ASGI app that answers every turn with the same SSE frames, precomputed.

At start-up it runs one ``threads.create`` and one ``threads.add_user_message`` through the
peer app's ChatKitServer (same agent, same word count) and keeps the frames; then every
``POST /chatkit`` reads the body, looks at its ``type`` and sends the frames of that op, one
ASGI message per frame as a real server does. No store, no agent, no validation: what is left
is the ASGI server, HTTP and the client.

Run: ``uvicorn benchmarks.floor_app:app --workers 1 --no-access-log``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from chatkit.server import StreamingResult

from .peer_app import PeerServer

INPUT = {
    "content": [{"type": "input_text", "text": "Hello from the benchmark"}],
    "attachments": [],
    "inference_options": {},
}


async def _frames(server: PeerServer, body: dict[str, Any]) -> list[bytes]:
    result = await server.process(json.dumps(body), {})
    assert isinstance(result, StreamingResult)
    return [chunk async for chunk in result]


async def _precompute() -> dict[str, list[bytes]]:
    server = PeerServer()
    created = await _frames(server, {"type": "threads.create", "params": {"input": INPUT}})
    thread_id = json.loads(created[0][len(b"data: ") :])["thread"]["id"]
    added = await _frames(
        server,
        {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": INPUT}},
    )
    return {"threads.create": created, "threads.add_user_message": added}


FRAMES = asyncio.run(_precompute())
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = await _body(receive)
    frames = None
    if scope["method"] == "POST" and scope["path"] == "/chatkit":
        frames = FRAMES.get(json.loads(body).get("type"))
    if frames is None:
        status = 200 if scope["path"] == "/bench/health" else 404
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    for frame in frames:
        await send({"type": "http.response.body", "body": frame, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
