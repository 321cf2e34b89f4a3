"""The platform's middleware plumbing, and one JSON line per request on the `platform.requests`
logger (every request: API, dashboard, admin), for operators.

Every middleware of the chain works both ways (Django's "sync_capable"/"async_capable"): the web
process serves ASGI, and one synchronous middleware anywhere in the chain would make Django run
everything inside it, the transcription views' waits included, in a thread that blocks until the
answer exists. Synchronous views still run in a thread of their own (Django adapts them);
the test client and management commands call the chain synchronously.
"""

import asyncio
import logging
import time
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

request_logger = logging.getLogger("platform.requests")

# What the request log and the usage log record for a client that went away before its answer
# existed (nginx's convention): the request was cancelled, so no response was ever made.
CLIENT_CLOSED_REQUEST = 499


class BothWaysMiddleware:
    """Base of a middleware Django can call from a synchronous or an asynchronous chain:
    subclasses write `call` (synchronous) and `acall` (a coroutine), usually around one
    `before`/`after` pair of their own."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self.acall(request)
        return self.call(request)

    def call(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    async def acall(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError


class RequestLogMiddleware(BothWaysMiddleware):
    """One JSON line per request on the `platform.requests` logger: who, what, how long.

    Never the audio, the transcript or the form fields: logs are kept longer and seen by more
    people than the data they describe. A request whose client went away before its answer
    existed is logged with status 499.
    """

    def call(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        self._log(request, started, response.status_code, response.streaming)
        return response

    async def acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        # In a thread: reading `request.user` may load it from the database.
        log = sync_to_async(self._log)
        try:
            response = await self.get_response(request)
        except asyncio.CancelledError:
            await log(request, started, CLIENT_CLOSED_REQUEST, False)
            raise
        await log(request, started, response.status_code, response.streaming)
        return response

    @staticmethod
    def _log(request: HttpRequest, started: float, status: int, streaming: bool) -> None:
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
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "request_bytes": int(request.META.get("CONTENT_LENGTH") or 0),
                    "tenant": getattr(tenant, "slug", None),
                    "api_key": getattr(api_key, "prefix", None),
                    "streaming": streaming,
                }
            },
        )
