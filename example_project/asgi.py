"""ASGI entry point: ``uvicorn example_project.asgi:application`` (or daphne, granian...).

Streaming answers need ASGI: under WSGI Django reads the whole answer before sending it.
``python manage.py runserver`` serves this application too, through daphne.

- ``"http"``: ``with_chatkit`` sends ChatKit's endpoints (``/chatkit/...``) down the lean path,
  without a thread hop per middleware (see the README's "The API's lean path"); every other
  page goes through the site's full middleware stack. Serve ``django_application`` to opt out.
- ``"websocket"``: the live socket (``chatkit/ws``), change notices for the user's open pages.
  Its consumer checks the origin (``ALLOWED_ORIGINS``, else ``ALLOWED_HOSTS``) and the
  credentials itself.
- ``"lifespan"``: on shutdown (SIGTERM), turns running without their client get a grace period
  (``SHUTDOWN_GRACE_SECONDS``) under servers that speak lifespan: uvicorn, hypercorn, granian.
"""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

# First: it sets Django up, which the imports below need (they load models).
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatkit_backend.asgi import with_chatkit  # noqa: E402
from chatkit_backend.live.lifespan import chatkit_lifespan  # noqa: E402
from chatkit_backend.routing import websocket_urlpatterns  # noqa: E402

http_application = with_chatkit(django_application)

if settings.DEBUG:
    # Static files (the admin's CSS, the protocol console's script) under any ASGI server in
    # development, as runserver does; in production run collectstatic and serve STATIC_ROOT
    # from the proxy (or WhiteNoise).
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    http_application = ASGIStaticFilesHandler(http_application)

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": URLRouter(websocket_urlpatterns),
        "lifespan": chatkit_lifespan,
    }
)
