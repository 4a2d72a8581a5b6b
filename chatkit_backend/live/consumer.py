"""``chatkit/ws``: the socket that tells an owner's open pages which of their threads changed.

Protocol (JSON text frames):

- the client authenticates with the session cookie (same origin), or sends
  ``{"type": "auth", "token": "<SimpleJWT access token>"}`` as its first frame (tokens never go
  in the URL: URLs end up in logs);
- the server answers ``{"type": "ready"}`` and from then on sends
  ``{"type": "thread.changed", "thread_id": "...", "reason": "items" | "title" | "status" |
  "deleted"}`` for each committed change to one of the owner's threads;
- ``{"type": "ping"}`` is answered with ``{"type": "pong"}``; staff with
  ``chatkit_backend.reply_thread`` may send ``{"type": "watch", "thread_id": "..."}`` to hear
  of a thread they do not own (the operator's page; answered ``{"type": "watching", ...}``);
  ``{"type": "stop", "thread_id": "..."}`` stops a run of the owner's that outlives its
  client (``ON_DISCONNECT = "finish"``: the page's stop button); other frames are ignored;
- close codes: 4401 (no valid credentials within ``LIVE_AUTH_TIMEOUT``, a bad token, or the
  token expired), 4403 (an origin that may not use the site), 4413 (a frame larger than
  ``LIVE_MAX_FRAME_BYTES``), 4429 (a flood: more than 20 frames at once, or 5 a second).
  All in the application range, like HTTP's 401/403/413/429: daphne refuses to send a
  protocol code such as 1008 or 1009 from an application (it closes with 1011 instead).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from ..conf import conf
from ..context import Owner
from .credentials import (
    SAME_SITE,
    Credentials,
    from_session,
    from_token,
    may_watch,
    origin_kind,
    owns,
)
from .detached import STOP_MESSAGE
from .groups import owner_group, thread_group, turn_group

UNAUTHORIZED = 4401
FORBIDDEN = 4403
TOO_BIG = 4413
FLOODED = 4429  # more frames than any page sends
FRAME_BURST = 20
FRAMES_PER_SECOND = 5.0


class ThreadChangesConsumer(AsyncWebsocketConsumer):
    """One open page of one owner. Subclass to add frames of your own (call ``super()``)."""

    group: str | None = None
    _deadline: asyncio.TimerHandle | None = None
    _closing: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.watching: set[str] = set()
        self._allowance, self._checked = float(FRAME_BURST), time.monotonic()
        kind = origin_kind(self.scope)
        # Accepted first in every case: a socket refused before the handshake completes
        # reaches the browser as a bare 403, without the close code the page acts on.
        await self.accept()
        if kind is None:
            await self.close(code=FORBIDDEN)
            return
        found = (
            await database_sync_to_async(from_session)(self.scope) if kind == SAME_SITE else None
        )
        if found is not None:
            await self.authenticated(found)
            return
        self._close_later(conf.LIVE_AUTH_TIMEOUT)  # 4401 unless an auth frame comes in time

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > conf.LIVE_MAX_FRAME_BYTES:
            await self.close(code=TOO_BIG)
            return
        if not self._within_rate():
            await self.close(code=FLOODED)
            return
        try:
            frame = json.loads(text_data) if text_data is not None else None
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        if frame.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif frame.get("type") == "auth":
            found = await database_sync_to_async(from_token)(frame.get("token"))
            if found is None:
                await self.close(code=UNAUTHORIZED)
            else:
                await self.authenticated(found)
        elif frame.get("type") == "watch" and self.group is not None:
            await self.watch(frame.get("thread_id"))
        elif frame.get("type") == "stop" and self.group is not None:
            await self.stop(frame.get("thread_id"))

    async def stop(self, thread_id: Any) -> None:
        """The page saw its stream aborted while alive: the user pressed stop. Stop the run
        in ``thread_id`` (one of the owner's), wherever it runs (``ON_DISCONNECT="finish"``)."""
        if await database_sync_to_async(owns)(self.owner, thread_id):
            await self.channel_layer.group_send(turn_group(thread_id), {"type": STOP_MESSAGE})

    async def watch(self, thread_id: Any) -> None:
        """An operator's page follows a thread it does not own (ignored for anyone else)."""
        if not await database_sync_to_async(may_watch)(self.owner, thread_id):
            return
        group = thread_group(thread_id)
        self.watching.add(group)
        await self.channel_layer.group_add(group, self.channel_name)
        await self.send_json({"type": "watching", "thread_id": thread_id})

    async def authenticated(self, credentials: Credentials) -> None:
        """Join the owner's group (leaving another one) and answer ``ready``."""
        group = owner_group(credentials.owner)
        if self.group is not None and self.group != group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        self.group = group
        self.owner: Owner = credentials.owner
        await self.channel_layer.group_add(group, self.channel_name)
        self._cancel_deadline()
        if credentials.expires_at is not None:  # a token's socket lives as long as the token
            self._close_later(max(0.0, credentials.expires_at - time.time()))
        await self.send_json({"type": "ready"})

    async def disconnect(self, code: int) -> None:
        self._cancel_deadline()
        for group in self.watching:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.watching.clear()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def thread_changed(self, event: dict[str, Any]) -> None:
        """A notice from :mod:`chatkit_backend.live.notify`: pass it on."""
        await self.send_json(
            {"type": "thread.changed", "thread_id": event["thread_id"], "reason": event["reason"]}
        )

    async def send_json(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame))

    def _within_rate(self) -> bool:
        """A token bucket: a page sends a few frames a minute; FRAME_BURST at once, then
        FRAMES_PER_SECOND (frames that cost a query, such as stop and watch, included)."""
        now = time.monotonic()
        self._allowance = min(
            FRAME_BURST, self._allowance + (now - self._checked) * FRAMES_PER_SECOND
        )
        self._checked = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    def _close_later(self, delay: float) -> None:
        self._cancel_deadline()

        def expire() -> None:
            self._closing = asyncio.ensure_future(self._expire())

        self._deadline = asyncio.get_running_loop().call_later(delay, expire)

    async def _expire(self) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        await self.close(code=UNAUTHORIZED)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
