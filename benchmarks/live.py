"""Live updates: memory per idle socket, and notice latency from commit to socket receipt.

    python benchmarks/live.py                     # 1,000 sockets, 200 notices per setup
    python benchmarks/live.py --server daphne     # the same under daphne (runserver's server)
    python benchmarks/live.py --sockets 200 --notices 50
    python benchmarks/live.py --write-readme      # and put the table into benchmarks/README.md

Everything runs on 127.0.0.1: uvicorn processes of the example site (``benchmarks.live_asgi``,
``benchmarks.live_settings``: SQLite, rate limits off) and Redis at ``--redis`` for the
two-process figure. See benchmarks/README.md ("Live updates") for what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    """The example site's database, and uvicorn processes serving it."""

    def __init__(self, tmp: Path, redis: str | None, ws: str = "auto", server: str = "uvicorn"):
        self.tmp = tmp
        self.ws = ws
        self.server = server
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            "DJANGO_SETTINGS_MODULE": "benchmarks.live_settings",
            "DATABASE_URL": f"sqlite:///{tmp / 'live.sqlite3'}",
            "SECRET_KEY": secrets.token_hex(32),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONPATH": str(REPO),
            "LLM_PROVIDER": "offline",
        }
        if redis:
            self.env["REDIS_URL"] = redis
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, check=True)

    def start(self, app: str, name: str) -> tuple[str, int, Path]:
        port = free_port()
        log = self.tmp / f"{name}.changes"
        env = {**self.env, "BENCH_LIVE_LOG": str(log)}
        if self.server == "daphne":
            command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]
        else:
            command = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
            command += ["--no-access-log", "--host", "127.0.0.1", "--lifespan", "off"]
            command += ["--ws", self.ws]
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=(self.tmp / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.tmp / f"{name}.log").read_text())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return url, process.pid, log
            except OSError:
                time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=20)
        self.processes.clear()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def token(url: str) -> str:
    response = httpx.post(
        f"{url}/api/token/", json={"username": "bench", "password": PASSWORD}, trust_env=False
    )
    return response.json()["access"]


async def open_socket(ws_url: str, access: str | None) -> websockets.ClientConnection:
    ws = await websockets.connect(ws_url, max_queue=None, open_timeout=60)
    if access:
        await ws.send(json.dumps({"type": "auth", "token": access}))
    assert json.loads(await ws.recv()) == {"type": "ready"}
    return ws


async def memory(url: str, pid: int, count: int, access: str | None) -> float:
    """KiB of server RSS per idle socket: RSS with ``count`` more sockets open, over count."""
    ws_url = "ws" + url.removeprefix("http") + "/chatkit/ws"
    warm = [await open_socket(ws_url, access) for _ in range(20)]
    await asyncio.sleep(1)
    before = rss_kib(pid)
    sockets = []
    for start in range(0, count, 50):  # 50 at a time, as pages reconnecting after a deploy
        sockets += await asyncio.gather(
            *(open_socket(ws_url, access) for _ in range(min(50, count - start)))
        )
    await asyncio.sleep(2)
    after = rss_kib(pid)
    for ws in warm + sockets:
        await ws.close()
    return (after - before) / count


async def latency(change_url: str, socket_url: str, log: Path, notices: int) -> list[float]:
    """Seconds from a rename's commit (on ``change_url``) to its notice (on ``socket_url``)."""
    access = token(change_url)
    api = httpx.AsyncClient(
        base_url=change_url, headers={"Authorization": f"Bearer {access}"}, trust_env=False
    )
    body = {
        "type": "threads.create",
        "params": {
            "input": {
                "content": [{"type": "input_text", "text": "Hi"}],
                "attachments": [],
                "inference_options": {},
            }
        },
    }
    created = (await api.post("/chatkit/api", json=body)).text
    thread_id = json.loads(created.split("data: ", 2)[1].split("\n")[0])["thread"]["id"]
    ws = await open_socket("ws" + socket_url.removeprefix("http") + "/chatkit/ws", access)
    received: list[float] = []
    for n in range(notices + 10):
        update = {"type": "threads.update", "params": {"thread_id": thread_id, "title": f"T{n}"}}
        await api.post("/chatkit/api", json=update)
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame.get("reason") == "title":
                received.append(time.monotonic())
                break
    await ws.close()
    await api.aclose()
    commits = [
        float(line.split()[0])
        for line in await asyncio.to_thread(lambda: log.read_text().splitlines())
        if line.split()[2:] == ["thread", "title"]
    ]
    # The thread's first title (set by its first turn, before the socket opened) comes first.
    commits = commits[len(commits) - len(received) :]
    return [r - c for r, c in zip(received, commits, strict=True)][10:]  # 10 warm-up


async def redis_round_trip(redis: str, count: int) -> list[float]:
    """The channel layer alone: group_send on one RedisChannelLayer to a channel of another."""
    from channels_redis.core import RedisChannelLayer

    hosts = [{"address": redis, "socket_timeout": None}]
    sender = RedisChannelLayer(hosts=hosts, prefix="chatkit-bench-floor")
    listener = RedisChannelLayer(hosts=hosts, prefix="chatkit-bench-floor")
    channel = await listener.new_channel()
    await listener.group_add("bench", channel)
    times = []
    for _ in range(count + 10):
        start = time.monotonic()
        await sender.group_send("bench", {"type": "x"})
        await listener.receive(channel)
        times.append(time.monotonic() - start)
    await listener.group_discard("bench", channel)
    await sender.flush()
    return times[10:]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p99_ms": p99 * 1000}


async def run(args: argparse.Namespace) -> dict:
    results: dict = {
        "sockets": args.sockets,
        "notices": args.notices,
        "ws": args.ws,
        "server": args.server,
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        site = Site(tmp, None, args.ws, args.server)
        site.manage("migrate", "--noinput", "-v", "0")
        site.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model\n"
            f"get_user_model().objects.create_user('bench', password={PASSWORD!r})",
        )
        try:
            url, pid, _ = site.start("benchmarks.live_asgi:floor", "floor")
            results["floor_kib_per_socket"] = await memory(url, pid, args.sockets, None)
            url, pid, log = site.start("benchmarks.live_asgi:application", "ours")
            results["ours_kib_per_socket"] = await memory(url, pid, args.sockets, token(url))
            results["one_process"] = percentiles(await latency(url, url, log, args.notices))
        finally:
            site.stop()
        if args.redis:
            site = Site(tmp, args.redis, args.ws, args.server)
            try:
                a, _, log_a = site.start("benchmarks.live_asgi:application", "worker-a")
                b, _, _ = site.start("benchmarks.live_asgi:application", "worker-b")
                results["two_processes_redis"] = percentiles(
                    await latency(a, b, log_a, args.notices)
                )
                results["redis_layer_alone"] = percentiles(
                    await redis_round_trip(args.redis, args.notices)
                )
            finally:
                site.stop()
    return results


def table(results: dict) -> str:
    ours, floor = results["ours_kib_per_socket"], results["floor_kib_per_socket"]
    rows = [
        "| figure | ours | beside us | target |",
        "| --- | --- | --- | --- |",
        f"| memory per idle socket ({results['sockets']:,} sockets, one worker) | "
        f"{ours:.1f} KiB | bare ASGI socket: {floor:.1f} KiB ({ours / floor:.1f}x) | < 50 KB |",
    ]
    one = results["one_process"]
    rows.append(
        f"| notice latency, one process (in-memory layer) | p50 {one['p50_ms']:.1f} ms, "
        f"p99 {one['p99_ms']:.1f} ms | | |"
    )
    if "two_processes_redis" in results:
        two, floor_rt = results["two_processes_redis"], results["redis_layer_alone"]
        rows.append(
            f"| notice latency, two processes over Redis | p50 {two['p50_ms']:.1f} ms, "
            f"p99 {two['p99_ms']:.1f} ms | channels-redis round trip alone: p50 "
            f"{floor_rt['p50_ms']:.1f} ms, p99 {floor_rt['p99_ms']:.1f} ms | p99 < 100 ms |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--notices", type=int, default=200)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' to skip")
    parser.add_argument("--output", help="default: benchmarks/results/live-<server>.json")
    parser.add_argument("--ws", default="auto", help="uvicorn's WebSocket implementation")
    parser.add_argument("--server", default="uvicorn", choices=["uvicorn", "daphne"])
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    output = args.output or REPO / f"benchmarks/results/live-{args.server}.json"
    Path(output).write_text(json.dumps(results, indent=2))
    print(table(results))
    if args.write_readme:
        readme = REPO / "benchmarks/README.md"
        text = readme.read_text()
        start, end = "<!-- live-table -->", "<!-- /live-table -->"
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        readme.write_text(f"{before}{start}\n{table(results)}\n{end}{after}")


if __name__ == "__main__":
    main()
