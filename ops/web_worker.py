"""gunicorn's worker class for the web process: uvicorn serving the ASGI application
(config/asgi.py), so that a websocket session (/v1/realtime) or a request waiting for its
transcription holds no thread of its own (api.views.audio), under gunicorn's process management
(restarts, graceful stops)."""

import os

from uvicorn_worker import UvicornWorker

# A realtime client message carries at most REALTIME_MAX_MESSAGE_BYTES (base64 audio in JSON):
# the consumer refuses a bigger one with an `error` event saying why. The server reads no
# further than this margin past it: a message whose frame announces more is refused with 1009
# from its header, before its payload is read.
WS_MARGIN = 64 * 1024
WS_MAX_SIZE = int(os.environ.get("REALTIME_MAX_MESSAGE_BYTES", 4 * 1024 * 1024)) + WS_MARGIN
# Messages read ahead of the consumer per connection: the memory one socket can make the
# server hold is this times WS_MAX_SIZE (uvicorn's 32 times 16 MiB was half a gigabyte).
WS_MAX_QUEUE = 8


class WebWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        # Django has no lifespan events; "auto" would only log that at each start.
        "lifespan": "off",
        # The client address stays the socket's, as under gthread: X-Forwarded-For is read by
        # the platform itself, TRUSTED_PROXY_COUNT entries from the right (ops, sign-in
        # throttling), never rewritten by the server from a header anyone can send.
        "proxy_headers": False,
        # Named, not "auto": with "auto" uvicorn quietly falls back to h11 (pure Python, slower
        # on large uploads) wherever httptools is missing.
        "http": "httptools",
        "ws": "websockets",
        "ws_max_size": int(os.environ.get("WS_MAX_SIZE", WS_MAX_SIZE)),
        "ws_max_queue": WS_MAX_QUEUE,
        # Keeps idle realtime sessions' connections known alive through proxies.
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
    }
