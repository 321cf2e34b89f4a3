"""The web process's application (gunicorn's uvicorn worker, platform/gunicorn.conf.py): HTTP
to Django as under WSGI; websockets are routed here too once there is a consumer for them."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
http_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

application = ProtocolTypeRouter({"http": http_application})
