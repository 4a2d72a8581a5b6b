"""A turn: one streaming request during which the agent answers in a thread.

Three promises hold for turns, across worker processes:

- **One turn per thread at a time.** A turn claims its thread with one conditional UPDATE of
  a lease on the thread row (``Thread.turn_lease`` / ``turn_lease_until``), renews the lease
  while it runs and releases it when it ends; a worker that dies mid-turn stops renewing, so
  its claim lapses on its own after ``TURN_LEASE_SECONDS``. A lease (rather than a database
  lock) holds no connection or transaction open while the model talks, and works the same on
  SQLite and PostgreSQL.
- **Budgets that cannot be escaped.** A turn reserves ``TURN_TOKEN_RESERVATION`` tokens on its
  owner's counter for the day before it starts, and settles the reservation to what it spent
  when it ends, however it ends (:class:`UsageMeter`).
- **A deleted thread stops its turn.** In the worker that deletes it at once (the
  ``post_delete`` signal reaches the running turn); in other workers when the turn next renews
  its lease or writes to the thread.

The database work is :class:`~chatkit_backend.store.DjangoStore`'s (``begin_turn``,
``renew_turn``, ``end_turn``). Here: the turn in memory and its lease (``turn``), what its
runs spend (``meter``), and the usage rows and daily counters budgets are checked against
(``usage``).
"""

from .meter import Charge, UsageMeter, estimate_tokens, text_chars
from .turn import (
    Turn,
    keep_claim,
    lease_end,
    register,
    stop_turns_in,
    stop_turns_of_deleted_thread,
    unregister,
)
from .usage import budget_notice

__all__ = [
    "Charge",
    "Turn",
    "UsageMeter",
    "budget_notice",
    "estimate_tokens",
    "keep_claim",
    "lease_end",
    "register",
    "stop_turns_in",
    "stop_turns_of_deleted_thread",
    "text_chars",
    "unregister",
]
