"""The example site's settings for the multi-process turn tests (tests/test_multiprocess_turns).

Short turn leases, so a killed worker's claim lapses within a test, and a daily budget.
"""

from example_project.settings import *  # noqa: F403

CHATKIT_BACKEND = {
    **CHATKIT_BACKEND,  # noqa: F405
    "TURN_LEASE_SECONDS": 1.5,
    "DAILY_TOKEN_BUDGET": 600,
    "TURN_TOKEN_RESERVATION": 200,
}
