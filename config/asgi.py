"""The web process's application (gunicorn's uvicorn worker, platform/gunicorn.conf.py): HTTP
to Django as under WSGI, the `/v1/realtime` websocket to the realtime consumer (api.realtime)."""

import os

import django

from ops.request_thread import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
# Django is set up before anything imports a model (the consumer does), as get_asgi_application
# does; the handler is Django's, with a request thread a waiting request can give back.
django.setup(set_prefix=False)
http_application = ASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from api.body_guard import BodyGuard  # noqa: E402
from api.realtime.consumer import RealtimeConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        # An API request's body is refused from its headers before Django reads it whole.
        "http": BodyGuard(http_application),
        "websocket": URLRouter(
            [
                path("v1/realtime", RealtimeConsumer.as_asgi()),
                # Any other path: the handshake is refused (403), not an error in the log.
                re_path(r"", WebsocketDenier.as_asgi()),
            ]
        ),
    }
)
