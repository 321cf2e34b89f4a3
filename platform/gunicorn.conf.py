"""gunicorn settings for the web process (`gunicorn -c platform/gunicorn.conf.py`).

Each process is uvicorn serving the ASGI application (config/asgi.py): Django for HTTP, the
realtime consumer for `/v1/realtime` websockets. Django runs each synchronous view in a thread
of its own request; a synchronous or streaming /v1/audio request gives its thread back while its
job runs on a worker and waits as a coroutine (api.views.audio, ops.threads).
"""

import os

# Under ASGI every request runs in a thread of its own (and a waiting one reads in a shared
# pool, ops.threads), so a connection kept for the next
# request of its thread (CONN_MAX_AGE) never serves one and stays open until its thread is
# collected: Django's documentation says to disable persistent connections under ASGI. The web
# process opens one per request; the workers (qcluster), which keep theirs, are not affected.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")

bind = os.environ.get(
    "BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "ops.web_worker.WebWorker"
# Longer than the longest synchronous wait, so gunicorn never kills a request that is only
# waiting for its job (that request answers 504 itself).
timeout = int(float(os.environ.get("SYNC_WAIT_TIMEOUT", "600"))) + 60
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", None)
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
wsgi_app = "config.asgi:application"


def post_worker_init(worker) -> None:
    """Load the URLconf, and with it every view and what they import (DRF, PyAV), before the
    first request: Django loads it lazily, so the first request after a start paid for it."""
    from django.urls import get_resolver

    get_resolver().resolve("/v1/audio/transcriptions")
