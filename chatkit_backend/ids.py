"""Identifiers for threads, items and attachments.

The SDK's defaults carry 32 random bits, too few for a table shared by every user of a site.
We keep its prefixes (clients and logs recognise them) and use 96 random bits.
"""

from __future__ import annotations

import secrets

from chatkit.store import StoreItemType

PREFIXES: dict[str, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}

RANDOM_BYTES = 12  # 96 bits


def generate_id(item_type: StoreItemType | str) -> str:
    """Return a new id such as ``msg_3f9c0a61b2d44e8f9a7c1b2d``."""
    return f"{PREFIXES[item_type]}_{secrets.token_hex(RANDOM_BYTES)}"
