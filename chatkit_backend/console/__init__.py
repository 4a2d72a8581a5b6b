"""The protocol console: chat with the site's agent without the ChatKit widget.

One template (``chatkit_backend/console.html``, rendered by the ``{% chatkit_console %}``
tag) and one static script (``chatkit_backend/console.js``, vanilla JS, no build step) speak
``chatkit/api`` and ``chatkit/api/upload`` directly, with the session cookie and the CSRF
token, exactly like the widget's ``fetch``. Nothing in the request path knows the console:
it gets the same authentication, throttles, budgets and ownership rules as the widget.

It appears in two places: the admin's Playground (:mod:`chatkit_backend.admin.playground`, for
staff holding :data:`PERMISSION`), and any page that includes the tag, such as the example
site's fallback when ``chatkit.js`` cannot load from OpenAI's CDN.
"""

from __future__ import annotations

#: The permission that opens the admin Playground (``Playground`` in ``models``).
PERMISSION = "chatkit_backend.use_playground"
