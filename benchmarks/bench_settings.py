"""The example site as the benchmark runs it: ``DJANGO_SETTINGS_MODULE=benchmarks.bench_settings``.

Everything comes from ``example_project.settings`` (its database from ``DATABASE_URL``, its
SQLite options, SimpleJWT, middleware), with these changes only:

- the agent is the benchmark's deterministic streaming model (``benchmarks.agent``);
- rate limits are off (``THROTTLE_RATES = {}``): a benchmark sends far more turns per user
  than the default ``30/min`` allows;
- ``DEBUG = False`` and no auto-login, as in production;
- ``benchmarks.instrument`` counts SQL statements and thread hops per process; the
  applications served are ``benchmarks.bench_asgi``'s (which add ``Server-Timing``); the
  endpoints live in ``benchmarks.bench_urls`` under ``/bench/``.
"""

from example_project.settings import *  # noqa: F403
from example_project.settings import CHATKIT_BACKEND

DEBUG = False
EXAMPLE_AUTO_LOGIN = False
ROOT_URLCONF = "benchmarks.bench_urls"
CHATKIT_BACKEND = {
    **CHATKIT_BACKEND,
    "AGENT": "benchmarks.agent.build_agent",
    "THROTTLE_RATES": {},
}

# Django's own console handler only speaks when DEBUG is on: send warnings and errors (a
# failed request, a broken stream) to stderr, which the benchmark keeps in a log file.
LOGGING = {**LOGGING, "root": {"handlers": ["console"], "level": "WARNING"}}  # noqa: F405
