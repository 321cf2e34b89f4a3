"""Per-request bookkeeping for the /v1 API: request id and OpenAI's timing header."""

import logging
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

API_PREFIX = "/v1/"
request_logger = logging.getLogger("platform.requests")


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


class ApiRequestMiddleware:
    """Tags every API request with an id and answers with `x-request-id` and
    `openai-processing-ms`, as OpenAI does (clients log both when they report a problem)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return self.get_response(request)
        started = time.perf_counter()
        request.request_id = f"req_{uuid.uuid4().hex}"
        request.started_at = started
        response = self.get_response(request)
        response["x-request-id"] = request.request_id
        # A streamed body is still being produced: its header tells the time to first byte.
        response["openai-processing-ms"] = str(round((time.perf_counter() - started) * 1000))
        return response


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
