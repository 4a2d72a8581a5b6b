"""``ON_DISCONNECT = "finish"``: turns that outlive their client.

ChatKit meets a closed tab, a reload and the widget's stop button alike: the streaming request
is cancelled (Django cancels the response task), and with it, by default, the Agents run. Here
the turn instead runs in a task of its own, owned by the worker; the response only relays
what the task produces. When the client goes, the task goes on: its items are stored as
usual, its usage recorded and counted against the owner's budget, and the owner's sockets
hear of each stored change (:mod:`chatkit_backend.live.notify`).

Bounds: a run without its client is cut off after ``MAX_DETACHED_SECONDS``; on shutdown
(ASGI lifespan, see :mod:`chatkit_backend.live.lifespan`) runs get ``SHUTDOWN_GRACE_SECONDS``
to finish. A cut-off run is cancelled the way a disconnect cancels it under ``"cancel"``: the
SDK stores the partial answer and its cancellation note, nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections

from ..conf import conf
from ..turns import Turn
from .groups import turn_group

logger = logging.getLogger(__name__)

_END = object()
STOP_MESSAGE = "turn.stop"


@dataclass(eq=False)
class Run:
    """One turn's stream, run by the worker rather than by its request."""

    turn: Turn
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    detached: bool = False
    limit: asyncio.TimerHandle | None = None
    stop_listener: asyncio.Task[None] | None = None

    def detach(self) -> None:
        """The client is gone: keep running, within ``MAX_DETACHED_SECONDS``."""
        if self.detached or self.task is None or self.task.done():
            return
        self.detached = True
        while not self.queue.empty():  # nobody will read what was waiting
            self.queue.get_nowait()
        loop = asyncio.get_running_loop()
        self.limit = loop.call_later(conf.MAX_DETACHED_SECONDS, self.cut_off, "time limit")

    def cut_off(self, why: str) -> None:
        if self.task is not None and not self.task.done():
            logger.info("Cutting off a detached ChatKit turn (%s)", why)
            self.task.cancel()


_runs: set[Run] = set()


def running() -> list[Run]:
    """This worker's turns that run in tasks of their own (connected or not)."""
    return list(_runs)


def relay(stream: AsyncIterator[bytes], turn: Turn) -> AsyncIterator[bytes]:
    """The response body of ``turn``: ``stream`` itself under ``"cancel"``; under
    ``"finish"`` a relay of ``stream`` run in a worker-owned task that a disconnect does not
    cancel (a stop sent over the socket does: :func:`listen_for_stop`)."""
    if conf.ON_DISCONNECT != "finish":
        return stream
    return _relayed(stream, turn)


async def _relayed(stream: AsyncIterator[bytes], turn: Turn) -> AsyncIterator[bytes]:
    run = Run(turn)
    loop = asyncio.get_running_loop()
    run.task = loop.create_task(_pump(stream, run))
    run.stop_listener = loop.create_task(listen_for_stop(run))
    _runs.add(run)
    run.task.add_done_callback(lambda _task: _forget(run))
    try:
        while (chunk := await run.queue.get()) is not _END:
            yield chunk  # type: ignore[misc]
    finally:
        run.detach()  # a no-op once the run has ended


def _forget(run: Run) -> None:
    _runs.discard(run)
    if run.limit is not None:
        run.limit.cancel()
    if run.stop_listener is not None:
        run.stop_listener.cancel()


async def listen_for_stop(run: Run) -> None:
    """Cut ``run`` off when its owner's page says the user pressed stop (the socket's
    ``stop`` frame, sent to :func:`~chatkit_backend.live.groups.turn_group` from any
    worker). Without a channel layer, stops are not heard."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    # threads.create: the thread is stored by the turn first (the store sets the id).
    while run.turn.thread_id is None:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    group, channel = turn_group(run.turn.thread_id), await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        while (await layer.receive(channel)).get("type") != STOP_MESSAGE:
            pass
        run.cut_off("stopped by the user")
    finally:
        await asyncio.shield(layer.group_discard(group, channel))


async def _pump(stream: AsyncIterator[bytes], run: Run) -> None:
    # Its own thread for the ORM: the request's thread-sensitive context (and its thread) ends
    # with the response, and this task may outlive it.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatkit-turn")
    try:
        async with ThreadSensitiveContext(executor=executor):
            try:
                async for chunk in stream:
                    if not run.detached:
                        run.queue.put_nowait(chunk)
            finally:
                await sync_to_async(connections.close_all)()
    except asyncio.CancelledError:
        pass  # cut off: the SDK stored the partial answer and its note on the way out
    except Exception:
        logger.exception("A ChatKit turn running on its own failed")
    finally:
        run.queue.put_nowait(_END)
        executor.shutdown(wait=False)


async def shutdown(grace: float) -> None:
    """Let running turns finish within ``grace`` seconds; cut off the rest and wait for them
    to store what they have (from the ASGI lifespan's shutdown)."""
    tasks = [run.task for run in running() if run.task is not None]
    if not tasks:
        return
    logger.info("Waiting up to %ss for %d ChatKit turn(s) to finish", grace, len(tasks))
    _done, pending = await asyncio.wait(tasks, timeout=grace)
    for run in running():
        if run.task in pending:
            run.cut_off("shutdown")
    if pending:
        await asyncio.wait(pending, timeout=15)
