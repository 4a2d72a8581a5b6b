"""The keys of live threads (Channels): the change-notice socket, runs that outlive their
client, and worker shutdown (check ids E181-E189)."""

from __future__ import annotations

from .setting import Setting
from .validators import integer, one_of, seconds

LIVE_SETTINGS: dict[str, Setting] = {
    # What a client disconnect (a closed tab, a reload, the widget's stop button: ChatKit
    # cannot tell them apart) does to a running turn: "cancel" stops the Agents run and
    # stores the partial answer; "finish" lets the run finish in a task owned by the worker.
    "ON_DISCONNECT": Setting(
        "cancel", one_of("cancel", "finish"), "Use 'cancel' or 'finish'.", 181
    ),
    # Longest a run may go on without its client ("finish"); past it, it is cut off and the
    # partial answer is stored with the SDK's cancellation note.
    "MAX_DETACHED_SECONDS": Setting(
        300, seconds, "Use a number of seconds such as 300.", 182, coerce=float
    ),
    # How long a socket may stay open without valid credentials before it closes with 4401.
    "LIVE_AUTH_TIMEOUT": Setting(
        10, seconds, "Use a number of seconds such as 10.", 183, coerce=float
    ),
    # Largest frame a client may send on the socket, in bytes; a larger one closes it (4413).
    "LIVE_MAX_FRAME_BYTES": Setting(
        4096, integer(64), "Use a whole number of bytes such as 4096.", 184
    ),
    # On shutdown (SIGTERM, through ASGI lifespan), how long detached runs may still finish
    # before they are cut off (their partial answers stored with the cancellation note).
    "SHUTDOWN_GRACE_SECONDS": Setting(
        20, seconds, "Use a number of seconds such as 20.", 185, coerce=float
    ),
    # How often, at most, a run that may outlive its client ("finish", or a run started by
    # server code) stores its growing answer, so a reload shows the partial answer.
    "PROGRESS_SAVE_SECONDS": Setting(
        1.0, seconds, "Use a number of seconds such as 1.", 186, coerce=float
    ),
}
