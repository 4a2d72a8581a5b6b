"""What the tests share: servers and providers they run against, rows and files they make, and
the checks they repeat.

- ``db``: rows written straight to the database, and ``snapshot()`` of everything stored;
- ``files``: sample files (a real PNG, a PDF) and what an upload left in storage;
- ``net``: a free port on 127.0.0.1; ``waiting``: polling for a condition;
- ``fake_provider``: an OpenAI-compatible server on 127.0.0.1 (Responses and Chat Completions);
- ``slow_stream`` and ``turn_streams``: slow model streams, and turns read event by event;
- ``example_site``: the example project in subprocesses, on a database of its own;
- ``browser``: headless Chromium; ``agents``: agents and a server subclass for the tests;
- ``schema_strategies``: hypothesis strategies from the protocol's JSON schema.

The live ASGI server the tests use is the one users get: ``chatkit_backend.testing``'s
``live_asgi`` fixture.
"""
