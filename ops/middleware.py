"""One JSON line per request on the `platform.requests` logger (every request: API, dashboard,
admin), for operators."""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

request_logger = logging.getLogger("platform.requests")


class RequestLogMiddleware:
    """One JSON line per request on the `platform.requests` logger: who, what, how long.

    Never the audio, the transcript or the form fields: logs are kept longer and seen by more
    people than the data they describe.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        tenant = getattr(user, "tenant", None)
        api_key = getattr(user, "api_key", None)
        request_logger.info(
            "request",
            extra={
                "json": {
                    "request_id": getattr(request, "request_id", None),
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "request_bytes": int(request.META.get("CONTENT_LENGTH") or 0),
                    "tenant": getattr(tenant, "slug", None),
                    "api_key": getattr(api_key, "prefix", None),
                    "streaming": response.streaming,
                }
            },
        )
        return response
