"""Live threads over Django Channels.

- ``consumer``: the ``chatkit/ws`` WebSocket that tells an owner's open pages which of their
  threads changed (mounted through :mod:`chatkit_backend.routing`);
- ``notify``: committed changes (a turn's items, server code, the admin) become notices on
  the owner's channel-layer group;
- ``detached``: ``ON_DISCONNECT = "finish"``, runs that outlive their client, and the grace
  period on shutdown (``lifespan``);
- ``progress``: the growing answer stored as it grows, and paused threads (an operator
  answers);
- ``headless``: turns started by server code, without a client.
"""
