"""cProfile for ``sync_to_async`` worker threads: cProfile only sees the thread it runs in,
and the ORM runs in worker threads, so every work item they run is profiled too, by a profiler
of that thread, and the statistics are merged afterwards (see ``profile_turns.py``)."""

from __future__ import annotations

import cProfile
import functools
import threading
from collections import defaultdict
from concurrent.futures import thread as futures_thread
from typing import Any


class ThreadProfiles:
    """A cProfile profiler per worker thread, on only while it runs a work item."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.profilers: list[cProfile.Profile] = []
        self.lock = threading.Lock()
        self.enabled = False
        self.hops: dict[str, int] = defaultdict(int)
        self._original = futures_thread._WorkItem.run

    def install(self) -> None:
        profiles = self
        original = self._original

        def run(item: Any, *args: Any, **kwargs: Any) -> Any:
            if not profiles.enabled:
                return original(item, *args, **kwargs)
            with profiles.lock:
                profiles.hops[_work_name(item)] += 1
            profiler = getattr(profiles.local, "profiler", None)
            if profiler is None:
                profiler = profiles.local.profiler = cProfile.Profile()
                with profiles.lock:
                    profiles.profilers.append(profiler)
            profiler.enable()
            try:
                return original(item, *args, **kwargs)
            finally:
                profiler.disable()

        futures_thread._WorkItem.run = run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        futures_thread._WorkItem.run = self._original  # type: ignore[method-assign]


def _work_name(item: Any) -> str:
    """The sync function a ``sync_to_async`` work item runs (asgiref wraps it twice)."""
    fn = getattr(item, "fn", None)
    child = fn.args[-1] if isinstance(fn, functools.partial) and fn.args else fn
    target = getattr(child, "func", child)
    target = getattr(target, "__func__", target)
    module = getattr(target, "__module__", "") or ""
    name = getattr(target, "__qualname__", None) or repr(target)[:60]
    return f"{module}.{name}"
