"""A loopback OpenAI-compatible model server for tests: real HTTP on 127.0.0.1, no internet.

It streams ``POST /v1/responses`` (Responses API server-sent events, as the ``openai``
client's ``responses.create(stream=True)`` parses them) and ``POST /v1/chat/completions``
(``chat.completion.chunk`` lines, a usage chunk and ``data: [DONE]``), so the real provider
code (``OpenAIResponsesModel``, ``OpenAIChatCompletionsModel``, the ``openai`` client and its
HTTP stack) runs in tests. It records every request and can be told to misbehave::

    with FakeProvider() as server:
        server.script("First answer", ToolCall("get_weather", '{"city": "Oslo"}'), "Sunny")
        server.fail_next(429)                # the next request answers HTTP 429
        server.hang_next(5)                  # the next one answers nothing for 5 s
        server.hang_next(5, after_events=3)  # ... or stalls after 3 events of its stream
        server.drop_next()                   # ... or closes the connection unanswered
        server.error_next(after_events=2)    # ... or sends an error event mid-stream
        server.hold()                        # streams wait before their first event...
        server.release()                     # ... until released
        server.hold_if(lambda r: r.json["model"] == "title-model")  # only some of them...
        server.release_held()                # ... until released
        server.fail_if(lambda r: r.json["model"] == "title-model", 500)  # fail only some
        server.answer_if(lambda r: r.json["model"] == "title-model", "A title")  # or answer
        server.transcript = "Hello there"    # POST /v1/audio/transcriptions answers this
        settings.CHATKIT_BACKEND = {..., "LLM_BASE_URL": server.base_url}
        ...
        server.requests[-1].json["messages"]  # what the model was sent
        server.requests[-1].bearer            # the key it was sent with

Each answered request takes the next scripted step (a text or a :class:`ToolCall`); when the
script is empty it answers ``default_answer`` (or ``"Fake answer N."``). Failures, hangs and
drops take precedence; those that strike before the stream starts do not use up a scripted
step, those in the middle of a stream cut that step's answer short. The 401 answer quotes the
received key back verbatim, the worst a provider can do, so tests can check the key never
travels further.

Like real providers, it reports usage only in the last events of a stream. ``event_delay``
(seconds, or a ``(low, high)`` range drawn from for each event) makes it slow, and
``streams`` records how far each answer got: whether the client stayed to its end.

Import the ``fake_provider`` fixture into a test module to get a running server per test.
"""

from __future__ import annotations

import json
import random
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

PLACEHOLDER_ID = "__fake_id__"


@dataclass(frozen=True)
class ToolCall:
    """A scripted step in which the model calls a function tool."""

    name: str
    arguments: str = "{}"
    call_id: str = field(default_factory=lambda: f"call_{secrets.token_hex(6)}")
    # Gemini's Chat Completions endpoint sends one with each tool call (in ``extra_content``)
    # and Gemini 3 wants it back with the call on the next request.
    thought_signature: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, tuple[str | None, bytes]]:
        """A multipart body's fields: name -> (filename, bytes)."""
        from email.parser import BytesParser
        from email.policy import HTTP

        head = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        fields = {}
        for part in message.iter_parts():
            fields[part.get_param("name", header="content-disposition")] = (
                part.get_filename(),
                part.get_payload(decode=True),
            )
        return fields

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[len("Bearer ") :] if value.startswith("Bearer ") else None


@dataclass
class StreamRecord:
    """How one streamed answer went, seen from the provider's side."""

    path: str
    events_sent: int = 0
    finished: bool = False  # every event was sent: the client stayed to the end
    ended: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Mishap:
    kind: str  # "fail" | "hang" | "drop" | "error"
    status: int = 500
    seconds: float = 0.0
    after_events: int | None = None


ERROR_BODIES = {
    400: ("invalid_request_error", "invalid_request", "The request is invalid."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: {key}."),
    403: ("permission_denied", "permission_denied", "You may not use this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: ("server_error", "server_error", "The server had an error processing your request."),
    503: ("server_error", "overloaded", "The engine is currently overloaded."),
}


class FakeProvider:
    """The server. Start it with ``with FakeProvider() as server:`` or ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        model_prefix: str = "",
        event_delay: float | tuple[float, float] = 0.0,
        default_answer: str | None = None,
        require_thought_signatures: bool = False,
    ):
        self.model_prefix = model_prefix
        # Seconds before each streamed event, or a (low, high) range to draw each pause from.
        self.event_delay = event_delay
        self.default_answer = default_answer  # for requests beyond the script
        # Like Gemini 3: refuse (HTTP 400) a Chat Completions request whose assistant tool
        # calls come without the ``thought_signature`` the model made.
        self.require_thought_signatures = require_thought_signatures
        self.retry_after_ms = 1  # sent with 429/5xx, so a client's own retries stay fast
        self.requests: list[RecordedRequest] = []
        self.answered = 0  # model requests answered with a stream
        self.streams: list[StreamRecord] = []
        self._open = threading.Event()  # cleared by hold(): streams wait before their first event
        self._open.set()
        self._hold_predicate: Any = None  # hold_if(): which streams wait for release_held()
        self._held_open = threading.Event()
        self.held: list[RecordedRequest] = []  # requests that waited (or wait) for release_held()
        self._failures: list[tuple[Any, int]] = []  # fail_if(): (predicate, status)
        self._answers: list[tuple[Any, str | ToolCall]] = []  # answer_if(): (predicate, step)
        self.transcript = "Fake transcript."
        self._script: deque[str | ToolCall] = deque()
        self._mishaps: deque[_Mishap] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeProvider:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.provider = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        self._open.set()  # and held streams
        self._held_open.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start the server first"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, no trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to put in ``LLM_BASE_URL``."""
        return f"{self.url}/v1/"

    # -- scripting ----------------------------------------------------------------------

    def script(self, *steps: str | ToolCall) -> None:
        """Answer the next model requests with these texts or tool calls, in order."""
        with self._lock:
            self._script.extend(steps)

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` requests with an OpenAI-style error of ``status``."""
        self._add(_Mishap("fail", status=status), times)

    def hang_next(self, seconds: float, times: int = 1, after_events: int | None = None) -> None:
        """Say nothing for ``seconds`` (before the status line, or after some events)."""
        self._add(_Mishap("hang", seconds=seconds, after_events=after_events), times)

    def drop_next(self, times: int = 1, after_events: int | None = None) -> None:
        """Close the connection without an answer (or in the middle of the stream)."""
        self._add(_Mishap("drop", after_events=after_events), times)

    def error_next(self, times: int = 1, after_events: int = 1) -> None:
        """Send an error event in the middle of the stream, as providers do when they fail."""
        self._add(_Mishap("error", after_events=after_events), times)

    def hold(self) -> None:
        """Make streams wait before their first event until :meth:`release` (at most 30 s)."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def hold_if(self, predicate: Any) -> None:
        """Make the streams of requests ``predicate`` accepts wait before their first event
        until :meth:`release_held` (at most 30 s); other requests are answered as usual."""
        self._hold_predicate = predicate
        self._held_open.clear()

    def release_held(self) -> None:
        self._held_open.set()

    def fail_if(self, predicate: Any, status: int = 500) -> None:
        """Answer every request ``predicate`` accepts with an error of ``status``."""
        with self._lock:
            self._failures.append((predicate, status))

    def answer_if(self, predicate: Any, step: str | ToolCall) -> None:
        """Answer every request ``predicate`` accepts with ``step`` (the script is not used)."""
        with self._lock:
            self._answers.append((predicate, step))

    def _holds(self, request: RecordedRequest) -> bool:
        if self._hold_predicate is None or not self._hold_predicate(request):
            return False
        with self._lock:
            self.held.append(request)
        return True

    def _failure_for(self, request: RecordedRequest) -> _Mishap | None:
        with self._lock:
            failures = list(self._failures)
        for predicate, status in failures:
            if predicate(request):
                return _Mishap("fail", status=status)
        return None

    def _add(self, mishap: _Mishap, times: int) -> None:
        with self._lock:
            self._mishaps.extend(_Mishap(**vars(mishap)) for _ in range(times))

    # -- inspection ---------------------------------------------------------------------

    def model_requests(self) -> list[RecordedRequest]:
        """The requests to ``/responses`` and ``/chat/completions``, in order."""
        return [r for r in self.requests if r.path.endswith(("/responses", "/chat/completions"))]

    # -- used by the handler ------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> tuple[_Mishap | None, str | ToolCall | None]:
        failure = self._failure_for(request)
        with self._lock:
            self.requests.append(request)
            if failure is not None:
                return failure, None
            for predicate, answer in self._answers:
                if predicate(request):
                    self.answered += 1
                    return None, answer
            mishap = self._mishaps.popleft() if self._mishaps else None
            if mishap is not None and mishap.after_events is None:
                return mishap, None  # nothing streams: the scripted step waits
            self.answered += 1
            if self._script:
                step = self._script.popleft()
            else:
                step = self.default_answer or f"Fake answer {self.answered}."
            return mishap, step

    def _pause(self) -> float:
        delay = self.event_delay
        return random.uniform(*delay) if isinstance(delay, tuple) else delay


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many turns connect at once in the concurrency tests
    block_on_close = False
    allow_reuse_address = True


class _Stop(Exception):
    """The connection is being dropped on purpose (or the server is stopping)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like real providers
    timeout = 30  # an idle keep-alive connection is closed after this many seconds
    server: _Server

    @property
    def provider(self) -> FakeProvider:
        return self.server.provider  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        with self.provider._lock:
            self.provider._connections.add(self.connection)

    def finish(self) -> None:
        with self.provider._lock:
            self.provider._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- routing ------------------------------------------------------------------------

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "Not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method="POST",
            path=self.path.split("?", 1)[0],
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        if request.path.endswith("/audio/transcriptions"):
            self._transcription(request)
            return
        mishap, step = self.provider._record(request)
        try:
            if request.path.endswith("/responses"):
                events = _responses_events(request.json, step, self.provider)
            elif request.path.endswith("/chat/completions"):
                if mishap is None and self.provider.require_thought_signatures:
                    missing = _unsigned_tool_call(request.json)
                    if missing:
                        self._json(400, _gemini_signature_error(missing))
                        return
                events = _chat_chunks(request.json, step, self.provider)
            else:
                self._json(404, {"error": {"message": "Not found", "type": "not_found"}})
                return
            self._answer(request, mishap, events)
        except (_Stop, OSError):
            self.close_connection = True

    def _transcription(self, request: RecordedRequest) -> None:
        """``POST /v1/audio/transcriptions``: multipart ``file`` and ``model``; JSON text."""
        failure = self.provider._failure_for(request)
        with self.provider._lock:
            self.provider.requests.append(request)
        if failure is not None:
            self._error(failure.status, request)
            return
        fields = request.form()
        if "file" not in fields or "model" not in fields:
            self._json(400, {"error": {"message": "file and model are required", "type": "x"}})
            return
        self._json(200, {"text": self.provider.transcript})

    # -- answering ----------------------------------------------------------------------

    def _answer(
        self, request: RecordedRequest, mishap: _Mishap | None, events: Iterator[bytes]
    ) -> None:
        if mishap is not None and mishap.after_events is None:
            if mishap.kind == "fail":
                self._error(mishap.status, request)
                return
            if mishap.kind == "hang":
                self._sleep(mishap.seconds)
                raise _Stop
            if mishap.kind == "drop":
                self._drop()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_{secrets.token_hex(8)}")
        self.end_headers()
        record = StreamRecord(request.path)
        with self.provider._lock:
            self.provider.streams.append(record)
        try:
            if self.provider._holds(request):
                self.provider._held_open.wait(30)
            self.provider._open.wait(30)
            for sent, event in enumerate(events):
                if mishap is not None and mishap.after_events == sent:
                    if mishap.kind == "hang":
                        self._sleep(mishap.seconds)
                        raise _Stop
                    if mishap.kind == "drop":
                        self._drop()
                    if mishap.kind == "error":
                        self._chunk(_error_event(request))
                        break
                pause = self.provider._pause()
                if pause:
                    self._sleep(pause)
                self._chunk(event)
                record.events_sent += 1
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            record.finished = True
        finally:
            record.ended.set()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _sleep(self, seconds: float) -> None:
        if self.provider._stopping.wait(seconds):
            raise _Stop

    def _drop(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Stop

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, request: RecordedRequest) -> None:
        kind, code, message = ERROR_BODIES.get(status, ("server_error", None, "Error."))
        headers = {"x-should-retry": "true"} if status in (429, 500, 503) else {}
        if status == 429 or status >= 500:
            headers["retry-after-ms"] = str(self.provider.retry_after_ms)
        body = {
            "error": {
                # Quote the key back in full: the worst case, to prove it goes no further.
                "message": message.format(key=request.bearer),
                "type": kind,
                "param": None,
                "code": code,
            }
        }
        self._json(status, body, headers)


# -- the two wire formats -------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Split ``text`` into several deltas (words with their trailing spaces)."""
    pieces: list[str] = []
    for word in text.split(" "):
        if pieces:
            pieces[-1] += " "
        pieces.append(word)
    return [piece for piece in pieces if piece] or [""]


def _model(body: Any, provider: FakeProvider) -> str:
    return provider.model_prefix + str((body or {}).get("model") or "fake-model")


def _count_tokens(body: Any) -> int:
    return max(1, len(json.dumps(body or {}).split()) // 2)


def _sse(payload: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload)}\n\n".encode()


def _error_event(request: RecordedRequest) -> bytes:
    message = "The model provider failed while answering."
    if request.path.endswith("/responses"):
        return _sse(
            {
                "type": "error",
                "code": "server_error",
                "message": message,
                "param": None,
                "sequence_number": 99,
            },
            "error",
        )
    return _sse({"error": {"message": message, "type": "server_error", "code": "server_error"}})


def _responses_events(body: Any, step: str | ToolCall | None, provider: FakeProvider):
    """A Responses API stream, event by event, as ``POST /v1/responses`` sends it."""
    response_id = f"resp_{secrets.token_hex(12)}"
    created = int(time.time())
    seq = iter(range(1_000_000))
    model = _model(body, provider)
    base = {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "model": model,
        "instructions": (body or {}).get("instructions"),
        "parallel_tool_calls": bool((body or {}).get("parallel_tool_calls", True)),
        "tool_choice": (body or {}).get("tool_choice") or "auto",
        "tools": (body or {}).get("tools") or [],
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "metadata": {},
        "error": None,
        "incomplete_details": None,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "user": None,
        "background": False,
        "max_output_tokens": None,
    }

    def event(kind: str, **fields: Any) -> bytes:
        return _sse({"type": kind, "sequence_number": next(seq), **fields}, kind)

    in_progress = {**base, "status": "in_progress", "output": [], "usage": None}
    yield event("response.created", response=in_progress)
    yield event("response.in_progress", response=in_progress)

    if isinstance(step, ToolCall):
        item_id = f"fc_{secrets.token_hex(12)}"
        item = {
            "id": item_id,
            "type": "function_call",
            "status": "in_progress",
            "name": step.name,
            "call_id": step.call_id,
            "arguments": "",
        }
        yield event("response.output_item.added", output_index=0, item=item)
        for piece in (
            step.arguments[: len(step.arguments) // 2],
            step.arguments[len(step.arguments) // 2 :],
        ):
            yield event(
                "response.function_call_arguments.delta",
                item_id=item_id,
                output_index=0,
                delta=piece,
            )
        yield event(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=0,
            name=step.name,
            arguments=step.arguments,
        )
        done_item = {**item, "status": "completed", "arguments": step.arguments}
        yield event("response.output_item.done", output_index=0, item=done_item)
        output = [done_item]
        output_tokens = max(1, len(step.arguments) // 4)
    else:
        text = step or ""
        item_id = f"msg_{secrets.token_hex(12)}"
        common = {"item_id": item_id, "output_index": 0, "content_index": 0}
        item = {
            "id": item_id,
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        yield event("response.output_item.added", output_index=0, item=item)
        empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event("response.content_part.added", part=empty_part, **common)
        for piece in _words(text):
            yield event("response.output_text.delta", delta=piece, logprobs=[], **common)
        yield event("response.output_text.done", text=text, logprobs=[], **common)
        part = {**empty_part, "text": text}
        yield event("response.content_part.done", part=part, **common)
        done_item = {**item, "status": "completed", "content": [part]}
        yield event("response.output_item.done", output_index=0, item=done_item)
        output = [done_item]
        output_tokens = len(_words(text))

    input_tokens = _count_tokens((body or {}).get("input"))
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }
    completed = {
        **base,
        "status": "completed",
        "completed_at": int(time.time()),
        "output": output,
        "usage": usage,
    }
    yield event("response.completed", response=completed)


def _chat_chunks(body: Any, step: str | ToolCall | None, provider: FakeProvider):
    """A Chat Completions stream, chunk by chunk, as ``POST /v1/chat/completions`` sends it."""
    completion_id = f"chatcmpl-{secrets.token_hex(12)}"
    created = int(time.time())
    model = _model(body, provider)

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": choices,
        }
        if usage is not None:
            payload["usage"] = usage
        return _sse(payload)

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    if isinstance(step, ToolCall):
        yield chunk([choice({"role": "assistant", "content": None})])
        call = {
            "index": 0,
            "id": step.call_id,
            "type": "function",
            "function": {"name": step.name, "arguments": ""},
        }
        if step.thought_signature:
            call["extra_content"] = {"google": {"thought_signature": step.thought_signature}}
        yield chunk([choice({"tool_calls": [call]})])
        half = len(step.arguments) // 2
        for piece in (step.arguments[:half], step.arguments[half:]):
            yield chunk([choice({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})])
        yield chunk([choice({}, "tool_calls")])
        completion_tokens = max(1, len(step.arguments) // 4)
    else:
        text = step or ""
        yield chunk([choice({"role": "assistant", "content": ""})])
        for piece in _words(text):
            yield chunk([choice({"content": piece})])
        yield chunk([choice({}, "stop")])
        completion_tokens = len(_words(text))

    prompt_tokens = _count_tokens((body or {}).get("messages"))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    yield chunk([], usage)
    yield b"data: [DONE]\n\n"


def _unsigned_tool_call(body: Any) -> str | None:
    """The name of an assistant tool call sent back without its thought signature, if any."""
    for message in (body or {}).get("messages") or []:
        for call in message.get("tool_calls") or []:
            google = (call.get("extra_content") or {}).get("google") or {}
            if not google.get("thought_signature"):
                return (call.get("function") or {}).get("name") or "?"
    return None


def _gemini_signature_error(name: str) -> list[dict[str, Any]]:
    # Gemini's OpenAI-compatible endpoint answers errors as a list.
    return [
        {
            "error": {
                "code": 400,
                "message": f"Function call is missing a thought_signature in functionCall parts "
                f"({name}). This is required for tools to work correctly.",
                "status": "INVALID_ARGUMENT",
            }
        }
    ]


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A running :class:`FakeProvider` for the length of the test."""
    with FakeProvider() as server:
        yield server
