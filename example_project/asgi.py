"""ASGI entry point: ``uvicorn example_project.asgi:application`` (or daphne, granian...).

Streaming answers need ASGI: under WSGI Django reads the whole answer before sending it.
``python manage.py runserver`` serves this application too, through daphne.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

application = get_asgi_application()
