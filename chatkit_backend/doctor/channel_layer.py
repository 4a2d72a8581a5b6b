"""The channel layer live updates use: a message round trip, and channels-redis' timeouts."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings

from .findings import Finding, Options


def check_channel_layer(options: Options) -> Iterator[Finding]:
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    if "default" not in layers:
        yield Finding(
            "skip",
            "channel layer",
            "No CHANNEL_LAYERS['default']: nothing to check (live updates over WebSockets "
            "need one).",
        )
        return
    backend = layers["default"].get("BACKEND", "")
    fix = (
        "Check CHANNEL_LAYERS['default'] (for channels_redis: REDIS_URL / its hosts) and that "
        "the server it names is running and reachable from here."
    )
    try:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            raise RuntimeError("get_channel_layer() returned None")
        async_to_sync(round_trip)(layer, options.timeout)
    except Exception as error:
        yield Finding(
            "fail",
            "channel layer",
            f"A message sent through {backend} did not come back: {type(error).__name__}: {error}",
            fix,
        )
        return
    if backend.endswith("InMemoryChannelLayer"):
        yield Finding(
            "ok",
            "channel layer",
            "In-memory layer: messages reach only the process that sent them. Fine with one "
            "server process; with several, use channels_redis.",
        )
    else:
        yield Finding("ok", "channel layer", f"A message went through {backend} and came back.")
    yield from redis_timeout_findings(backend, layers["default"].get("CONFIG", {}))


async def round_trip(layer: Any, seconds: float) -> None:
    """Send a probe to a new channel and receive it back, within ``seconds``."""
    probe = secrets.token_hex(8)
    async with asyncio.timeout(seconds):
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "chatkit.doctor", "probe": probe})
        message = await layer.receive(channel)
    if message.get("probe") != probe:
        raise RuntimeError(f"received {message!r} instead of the probe")


def redis_timeout_findings(backend: str, config: dict[str, Any]) -> Iterator[Finding]:
    """channels-redis with redis-py 8 drops idle sockets unless ``socket_timeout`` is None."""
    if "channels_redis" not in backend:
        return
    try:
        import redis
    except ImportError:
        return
    if int(str(redis.__version__).split(".")[0]) < 8:
        return
    plain = [
        host
        for host in config.get("hosts", [])
        if not (
            isinstance(host, dict) and "socket_timeout" in host and host["socket_timeout"] is None
        )
    ]
    if plain:
        yield Finding(
            "warn",
            "channel layer",
            "With redis-py 8, channels-redis hosts given without socket_timeout=None time out "
            "idle reads after 5 s: idle live-update sockets close every few seconds.",
            "Give each host as {'address': REDIS_URL, 'socket_timeout': None}.",
        )
