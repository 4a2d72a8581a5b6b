"""Our site's ASGI applications as the benchmark serves them (``benchmarks.bench_settings``).

- ``application``: what the README tells a site to deploy, ``with_chatkit(...)``: the API on
  the lean path. This is "ours".
- ``full_stack``: the same site unwrapped, every request through the whole ``MIDDLEWARE``
  (the standard stack): "ours-full", what a site's middleware costs when it opts out.

Both are wrapped in ``instrument.ServerTiming`` alike.
"""

import os

from django.core.asgi import get_asgi_application

from chatkit_backend.asgi import with_chatkit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.bench_settings")

django_application = get_asgi_application()

from benchmarks.instrument import ServerTiming  # noqa: E402  (after Django is set up)

application = ServerTiming(with_chatkit(django_application))
full_stack = ServerTiming(django_application)
