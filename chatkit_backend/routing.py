"""WebSocket routes of ChatKit, for the site's Channels ``ProtocolTypeRouter``::

    from channels.routing import ProtocolTypeRouter, URLRouter
    from chatkit_backend.routing import websocket_urlpatterns

    application = ProtocolTypeRouter({
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    })

The consumer checks the origin and the credentials itself (see
:mod:`chatkit_backend.live.consumer`); no auth middleware is needed around it.
"""

from django.urls import path

from .live.consumer import ThreadChangesConsumer

websocket_urlpatterns = [
    path("chatkit/ws", ThreadChangesConsumer.as_asgi(), name="chatkit_ws"),
]
