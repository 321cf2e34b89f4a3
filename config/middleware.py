"""Per-request bookkeeping for the /v1 API: request id and OpenAI's timing header."""

import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

API_PREFIX = "/v1/"


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
