"""Settings for the live-updates benchmark (``benchmarks/live.py``): the benchmark's settings
(rate limits off, production mode), with Redis under a prefix of its own when ``REDIS_URL``
is set."""

import os

from benchmarks.bench_settings import *  # noqa: F403

if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "chatkit-bench"  # noqa: F405
