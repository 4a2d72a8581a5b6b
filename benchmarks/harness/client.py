"""The load client: ChatKit requests over httpx, and one streaming turn checked end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .figures import count_errors
from .servers import ServerProc

DELTA_MARK = b'"assistant_message.content_part.text_delta"'


@dataclass
class Target:
    """A server as the client sees it: its ChatKit path and, for ours, bearer tokens (one per
    simulated user; client ``i`` uses token ``i`` modulo their number)."""

    name: str
    server: ServerProc
    path: str
    tokens: list[str] = field(default_factory=list)

    def headers(self, index: int = 0, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[index % len(self.tokens)]}"
        headers.update(extra or {})
        return headers


@dataclass
class TurnResult:
    ok: bool
    start: float
    end: float
    ttfe: float | None = None
    thread_id: str | None = None
    error: str | None = None
    events: int = 0

    @property
    def total(self) -> float:
        return self.end - self.start


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def create_body(text: str = "Hello from the benchmark") -> bytes:
    return json.dumps({"type": "threads.create", "params": {"input": user_input(text)}}).encode()


def add_body(thread_id: str, text: str = "And another question") -> bytes:
    return json.dumps(
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_input(text)},
        }
    ).encode()


def items_list_body(thread_id: str, after: str | None, order: str, limit: int = 20) -> bytes:
    params: dict[str, Any] = {"thread_id": thread_id, "limit": limit, "order": order}
    if after:
        params["after"] = after
    return json.dumps({"type": "items.list", "params": params}).encode()


def error_text(text: str) -> str:
    """An error body in a few words: an HTML page's title, else the start of the text."""
    if "<title>" in text:
        return text.split("<title>", 1)[1].split("</title>", 1)[0].strip()[:100]
    return " ".join(text.split())[:100]


async def turn(
    client: Any,
    target: Target,
    body: bytes,
    *,
    words: int,
    client_index: int = 0,
    extra_headers: dict[str, str] | None = None,
    on_first_event: Callable[[], None] | None = None,
) -> TurnResult:
    """One streaming request; checks the stream carried a whole answer and no error event."""
    start = time.perf_counter()
    ttfe = None
    buffer = bytearray()
    headers = target.headers(client_index, extra_headers)
    try:
        async with client.stream("POST", target.path, content=body, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
                error = f"HTTP {response.status_code}: {error_text(response.text)}"
                return TurnResult(False, start, time.perf_counter(), error=error)
            async for chunk in response.aiter_raw():
                buffer += chunk
                if ttfe is None and b"data:" in buffer:
                    ttfe = time.perf_counter() - start
                    if on_first_event is not None:
                        on_first_event()
    except Exception as error:  # every failure is counted, whatever it is
        failure = f"{type(error).__name__}: {error}"[:200]
        return TurnResult(False, start, time.perf_counter(), ttfe, error=failure)
    return judge_stream(buffer, start, time.perf_counter(), ttfe, words)


def judge_stream(
    buffer: bytearray, start: float, end: float, ttfe: float | None, words: int
) -> TurnResult:
    """A turn counts only with exactly ``words`` text deltas, a clean end and no error event."""
    if b'"type":"error"' in buffer:
        at = buffer.find(b'"type":"error"')
        error = f"error event: {bytes(buffer[at : at + 160])!r}"
        return TurnResult(False, start, end, ttfe, error=error)
    deltas = buffer.count(DELTA_MARK)
    if deltas != words or not buffer.endswith(b"\n\n"):
        error = f"incomplete stream: {deltas}/{words} deltas"
        return TurnResult(False, start, end, ttfe, error=error)
    thread_id = None
    if buffer.startswith(b'data: {"type":"thread.created"'):
        first = json.loads(buffer[6 : buffer.index(b"\n\n")])
        thread_id = first["thread"]["id"]
    events = buffer.count(b"data: ")
    return TurnResult(True, start, end, ttfe, thread_id=thread_id, events=events)


def client_for(target: Target, connections: int, read_timeout: float = 60.0) -> Any:
    """An httpx client for ``target``: loopback only, ``connections`` kept alive."""
    import httpx

    return httpx.AsyncClient(
        base_url=target.server.base_url,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(connect=30.0, read=read_timeout, write=30.0, pool=read_timeout),
        http1=True,
        trust_env=False,  # never a proxy: loopback only
    )


def summarize_errors(results: list[TurnResult]) -> dict[str, int]:
    """Failed turns by kind."""
    errors: dict[str, int] = {}
    for result in results:
        if not result.ok:
            count_errors(errors, (result.error or "?")[:120])
    return errors
