"""The example site's settings for the two-process live test (tests/test_live_multiprocess):
Redis as the channel layer (``REDIS_URL``), under a prefix of the test run's own so that
parallel runs on one Redis do not hear each other; answers finish after a disconnect."""

import os

from example_project.settings import *  # noqa: F403

CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ["TEST_CHANNELS_PREFIX"]  # noqa: F405
CHATKIT_BACKEND = {**CHATKIT_BACKEND, "ON_DISCONNECT": "finish"}  # noqa: F405
