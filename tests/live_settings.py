"""The example site's settings for the shutdown tests (tests/test_shutdown_grace): turns
finish after a disconnect, and the grace period on SIGTERM comes from the environment."""

import os

from example_project.settings import *  # noqa: F403

CHATKIT_BACKEND = {
    **CHATKIT_BACKEND,  # noqa: F405
    "ON_DISCONNECT": "finish",
    "SHUTDOWN_GRACE_SECONDS": float(os.environ.get("TEST_SHUTDOWN_GRACE", "20")),
}
