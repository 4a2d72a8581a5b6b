"""What large request bodies from other people cost a logged-in user.

    python benchmarks/body_flood.py [--seconds 8] [--senders 4] [--repo PATH]

Starts the example site (``example_project``, its own settings, a fresh SQLite file) under
uvicorn, one worker, and measures a logged-in user's ``threads.list`` (latency of one request
at a time, median and 95th percentile) while ``--senders`` clients post bodies to
``chatkit/api`` as fast as they are answered:

- ``idle``: nobody else;
- ``anonymous 1 MB``: no credentials, 1,000,000 bytes of valid JSON made of small objects
  (``{"a":1}``, about 110,000 of them), the body of the issue report;
- ``anonymous at limit``: the same, sized to the site's ``MAX_REQUEST_BYTES``;
- ``logged in at limit``: the same body from a logged-in sender (rate limits are off for
  this measurement, so every body is read);

``--repo`` runs the site from another checkout (say, one at an older commit) to compare.
Nothing else runs on 127.0.0.1 meanwhile; figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
LIST = b'{"type":"threads.list","params":{}}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def small_objects(size: int) -> bytes:
    """Valid ChatKit JSON of about ``size`` bytes: small objects in ``metadata``."""
    count = max(0, (size - 60) // 8)
    body = {"type": "threads.list", "params": {}, "metadata": {"m": [{"a": 1}] * count}}
    return json.dumps(body, separators=(",", ":")).encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def send_forever(url: str, body: bytes, token: str, answers: Any, stop: Any) -> None:
    """A sender process: post ``body`` until ``stop`` is set, counting the statuses."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                status = client.post("/chatkit/api", content=body, headers=headers).status_code
                answers.append(status)


def measure(
    url: str, token: str, seconds: float, senders: int, body: bytes | None, sender_token: str
) -> dict[str, Any]:
    # Senders are processes of their own: in this one, they would hold up the measuring
    # client's GIL, not the server.
    manager = multiprocessing.Manager()
    answers, stop = manager.list(), manager.Event()
    processes = [
        multiprocessing.Process(target=send_forever, args=(url, body, sender_token, answers, stop))
        for _ in range(senders if body else 0)
    ]
    for process in processes:
        process.start()
    time.sleep(1.0 if processes else 0)
    latencies = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.post("/chatkit/api", content=LIST, headers=headers)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text[:200]
            time.sleep(0.02)
    stop.set()
    for process in processes:
        process.join()
    statuses = collections.Counter(answers)
    manager.shutdown()
    return {
        "requests": len(latencies),
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "answers": dict(statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout to run the site from")
    args = parser.parse_args()
    repo = args.repo.resolve()

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LLM_", "OPENAI_", "GEMINI_", "DJANGO_", "DATABASE_"))
        }
        env.update(
            # The example's settings with rate limits off (so a logged-in sender's every body
            # is read) and DEBUG off, as the throughput benchmark runs it.
            DJANGO_SETTINGS_MODULE="benchmarks.bench_settings",
            DATABASE_URL=f"sqlite:///{tmp}/flood.sqlite3",
            SECRET_KEY="body-flood-benchmark-only-not-a-secret",
            PYTHONPATH=str(repo),
        )

        def manage(*command: str) -> str:
            done = subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=repo,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            return done.stdout.strip()

        manage("migrate", "--noinput", "-v", "0")
        token = manage("demo_token")
        sender_token = manage("demo_token", "--username", "sender")
        limit = int(
            manage(
                "shell",
                "-c",
                "from chatkit_backend.conf import conf; print(conf.MAX_REQUEST_BYTES)",
            ).splitlines()[-1]
        )
        port = free_port()
        uvicorn = "uvicorn example_project.asgi:application --host 127.0.0.1 --no-access-log"
        server = subprocess.Popen(
            [sys.executable, "-m", *uvicorn.split(), "--port", str(port)],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,  # a refused request logs a warning line each
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/bench/health", timeout=1, trust_env=False).is_success:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the site did not start")
                time.sleep(0.2)
            print(f"site from {repo}; MAX_REQUEST_BYTES = {limit:,}; {args.senders} senders")
            runs = [
                ("idle", None, ""),
                ("anonymous 1 MB", small_objects(1_000_000), ""),
                (f"anonymous {limit:,} B", small_objects(limit), ""),
                (f"logged in {limit:,} B", small_objects(limit), sender_token),
            ]
            for name, body, sender in runs:
                result = measure(url, token, args.seconds, args.senders, body, sender)
                print(
                    f"{name:28} threads.list median {result['median_ms']:7.1f} ms, "
                    f"p95 {result['p95_ms']:7.1f} ms ({result['requests']} requests); "
                    f"senders got {result['answers']}"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
