"""Readings of this machine and its processes, from /proc, and what the run ran on."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
VERSIONED = (
    "django",
    "openai-chatkit",
    "openai-agents",
    "pydantic",
    "uvicorn",
    "starlette",
    "httpx",
    "psycopg",
    "uvloop",
    "httptools",
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle, not waiting for I/O), from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds over a measurement: the server's, this client's, and the rest of the
    machine's (other processes; for PostgreSQL runs, partly our own database's work)."""

    server: float
    client: float
    other: float


class CpuMeter:
    """Started before a measurement, read after it."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.server = cpu_seconds(server_pid)
        self.client = time.process_time()
        self.busy = machine_busy_seconds()

    def read(self) -> CpuUse:
        server = cpu_seconds(self.pid) - self.server
        client = time.process_time() - self.client
        other = machine_busy_seconds() - self.busy - server - client
        return CpuUse(server, client, other)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS (kB) and Threads of a process, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


def raise_open_files_limit() -> int:
    """As many open files as allowed (the memory test opens hundreds of connections)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
    }
