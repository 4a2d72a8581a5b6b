"""ASGI entry point: ``uvicorn example_project.asgi:application`` (or daphne, granian...).

Streaming answers need ASGI: under WSGI Django reads the whole answer before sending it.
``python manage.py runserver`` serves this application too, through daphne.

``with_chatkit`` sends ChatKit's endpoints (``/chatkit/...``) down the lean path, without a
thread hop per middleware (see the README's "The API's lean path"); every other page goes
through the site's full middleware stack. Serve ``django_application`` to opt out.
"""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from chatkit_backend.asgi import with_chatkit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

django_application = get_asgi_application()
application = with_chatkit(django_application)

if settings.DEBUG:
    # Static files (the admin's CSS, the protocol console's script) under any ASGI server in
    # development, as runserver does; in production run collectstatic and serve STATIC_ROOT
    # from the proxy (or WhiteNoise).
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
