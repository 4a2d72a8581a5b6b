"""What reading one request body costs: the worst bodies ``MAX_REQUEST_BYTES`` lets through.

    python benchmarks/parse_cost.py [--bytes N] [--repeat 5]

A body is parsed and validated (``DjangoChatKitServer.parse``: JSON, the count of values,
storable text, chatkit's request models, unknown fields, the free-form and model-input
limits) after its sender is authenticated. That is CPU work holding the GIL, so while it runs
no other request on the worker moves, whichever thread runs it.

Each case is a body made of one repeated element (empty text parts, small objects in a
free-form field, ids...). For each, the script reports, in milliseconds (best of
``--repeat``): the body filled up to ``--bytes`` (default: the ``MAX_REQUEST_BYTES`` in
force), which the limits may refuse (a refusal costs what it took to reach it), and the
largest body of that shape that ``parse`` accepts. JSON decoding alone is shown beside each.
Times are CPU time of the parsing thread (``time.thread_time``), so other load on the
machine does not inflate them; garbage collection triggered meanwhile is included.

Run from the repository root with the project's virtual environment. No database is used;
settings are ``tests.settings`` unless ``DJANGO_SETTINGS_MODULE`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

Template = Callable[[int], Any]


def _input(content: list) -> dict:
    return {"content": content, "attachments": [], "inference_options": {}}


def _encode(value: Any) -> bytes:
    # ASCII-only, as the worst case: every character outside ASCII becomes a \u escape.
    return json.dumps(value, separators=(",", ":")).encode()


def cases() -> dict[str, Template]:
    """Body builders: ``count`` copies of a small element in one place of a request."""
    text = {"type": "input_text", "text": ""}
    tag = {"type": "input_tag", "id": "t", "text": "", "data": {}}
    small = {"a": 1}
    return {
        "empty text parts": lambda n: {
            "type": "threads.create",
            "params": {"input": _input([text] * n)},
        },
        "empty tags": lambda n: {"type": "threads.create", "params": {"input": _input([tag] * n)}},
        "small objects in metadata": lambda n: {
            "type": "threads.list",
            "params": {},
            "metadata": {"m": [small] * n},
        },
        "small objects in an action payload": lambda n: {
            "type": "threads.custom_action",
            "params": {"thread_id": "thr_x", "action": {"type": "a", "payload": [small] * n}},
        },
        "small objects in a client tool result": lambda n: {
            "type": "threads.add_client_tool_output",
            "params": {"thread_id": "thr_x", "result": [small] * n},
        },
        "empty lists in metadata": lambda n: {
            "type": "threads.list",
            "params": {},
            "metadata": {"m": [[]] * n},
        },
        "numbers in metadata": lambda n: {
            "type": "threads.list",
            "params": {},
            "metadata": {"m": [1] * n},
        },
        "one message of escaped emoji (\\ud83d\\ude00)": lambda n: {
            "type": "threads.create",
            "params": {"input": _input([{"type": "input_text", "text": "\U0001f600" * n}])},
        },
        "feedback item ids": lambda n: {
            "type": "items.feedback",
            "params": {"thread_id": "thr_x", "item_ids": ["m"] * n, "kind": "positive"},
        },
        "structured answers": lambda n: {
            "type": "threads.add_structured_input",
            "params": {
                "thread_id": "thr_x",
                "item_id": "i",
                "input": {"answers": {str(k): {"values": []} for k in range(n)}},
            },
        },
        "unknown fields in text parts": lambda n: {
            "type": "threads.create",
            "params": {"input": _input([{**text, "x": 0}] * n)},
        },
        "escaped characters (storable-text walk)": lambda n: {
            "type": "threads.list",
            "params": {},
            "metadata": {"m": ["\u00e9"] * n},
        },
    }


def largest(template: Template, fits: Callable[[bytes], bool], size: int) -> int:
    """The largest count whose body is at most ``size`` bytes and ``fits``."""
    low, high = 0, 1
    while len(_encode(template(high))) <= size and fits(_encode(template(high))):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        body = _encode(template(middle))
        if len(body) <= size and fits(body):
            low = middle
        else:
            high = middle
    return low


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.thread_time()
        try:
            work()
        except Exception:  # a refusal costs what it took to reach it
            pass
        times.append(time.thread_time() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes", type=int, default=None, help="body size to fill")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from chatkit_backend.conf import conf
    from chatkit_backend.server import DjangoChatKitServer

    server = DjangoChatKitServer()
    size = args.bytes or int(conf.MAX_REQUEST_BYTES)

    def accepted(body: bytes) -> bool:
        try:
            server.parse(body)
        except Exception:
            return False
        return True

    def outcome(body: bytes) -> str:
        try:
            server.parse(body)
        except Exception as error:
            return f"{getattr(error, 'code', type(error).__name__)}"
        return "accepted"

    print(f"bodies of at most {size:,} bytes; best of {args.repeat} runs, in ms")
    header = f"{'case':40} | {'full body':>9} {'json':>6} {'parse':>7} {'outcome':<16}"
    print(header + f" | {'largest accepted':>16} {'json':>6} {'parse':>7}")
    worst = 0.0
    for name, template in cases().items():
        full = _encode(template(largest(template, lambda body: True, size)))
        fits = _encode(template(largest(template, accepted, size)))
        cells = []
        for body in (full, fits):
            decode = best_of(args.repeat, lambda body=body: json.loads(body))
            whole = best_of(args.repeat, lambda body=body: server.parse(body))
            worst = max(worst, whole)
            cells.append((len(body), decode, whole))
        (full_size, full_json, full_parse), (fit_size, fit_json, fit_parse) = cells
        print(
            f"{name:40} | {full_size:>9,} {full_json:>6.1f} {full_parse:>7.1f} "
            f"{outcome(full):<16} | {fit_size:>16,} {fit_json:>6.1f} {fit_parse:>7.1f}"
        )
    print(f"worst: {worst:.1f} ms")


if __name__ == "__main__":
    main()
